import copy
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import python_stage
from stages.lib import params
from stages.lib.cli import UserError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def committed_params():
    return (ROOT / "params.yaml").read_text()


def test_committed_params_are_valid_for_every_stage():
    for stage in params.STAGE_PARAMS:
        params.load(stage, ROOT / "params.yaml")


def test_dvc_yaml_lists_exactly_the_params_each_stage_reads():
    stages = YAML(typ="safe").load((ROOT / "dvc.yaml").read_text())["stages"]
    assert set(stages) == set(params.STAGE_PARAMS)
    for name, stage in stages.items():
        assert sorted(stage.get("params", [])) == sorted(params.STAGE_PARAMS[name]), name


def test_unknown_key_is_named(tmp_path):
    path = write(tmp_path, committed_params().replace("max_order:", "max_ordr:"))
    with pytest.raises(UserError, match="unknown key 'ngram.max_ordr'"):
        params.load("vocab", path)


def test_unknown_top_level_key_is_named(tmp_path):
    path = write(tmp_path, committed_params() + "hiden_size: 3\n")
    with pytest.raises(UserError, match="unknown key 'hiden_size'"):
        params.load("download", path)


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("val_fraction: 0.05", "val_fraction: 0.0", "vocab.val_fraction"),
        ("val_fraction: 0.05", "val_fraction: high", "vocab.val_fraction"),
        ("test_fraction: 0.05", "test_fraction: 0.0", "vocab.test_fraction"),
        ("max_order: 7", "max_order: 0", "ngram.max_order"),
        ("max_order: 7", "max_order: 2.5", "ngram.max_order"),
        ("max_order: 7", "max_order: true", "ngram.max_order"),
        ("cell: lstm            #", "cell: transformer     #", "cell"),
        ("hidden_size: 512", "hidden_size: -4", "hidden_size"),
        ("feedback_start: 0.5", "feedback_start: 1.5", "wavernn.feedback_start"),
        ("device: auto        #", "device: tpu         #", "charrnn.device"),
        ("method: rms", "method: adam", "dynamic_eval.method"),
        ("step: 0.0003", "step: -0.1", "dynamic_eval.step"),
        ("decay: 0.001 ", "decay: 1.5 ", "dynamic_eval.decay"),
        ("segment_len: 32", "segment_len: 0", "dynamic_eval.segment_len"),
        ("gradient_chars: 65536", "gradient_chars: 1e12", "dynamic_eval.gradient_chars"),
    ],
)
def test_bad_values_name_key_and_allowed_range(tmp_path, old, new, key):
    assert old in committed_params()
    path = write(tmp_path, committed_params().replace(old, new, 1))
    stage = next(name for name, keys in params.STAGE_PARAMS.items() if key.split(".")[0] in keys)
    with pytest.raises(UserError, match=f"'{key}'.*allowed"):
        params.load(stage, path)


def test_values_are_only_checked_for_the_stage_that_reads_them(tmp_path):
    path = write(tmp_path, committed_params().replace("max_order: 7", "max_order: 0"))
    assert params.load("vocab", path)["vocab"]["val_fraction"] == 0.05


def test_int_is_accepted_for_float_and_yaml_1_2_exponents_parse(tmp_path):
    path = write(tmp_path, committed_params().replace("val_fraction: 0.05", "val_fraction: 5e-2"))
    assert params.load("vocab", path)["vocab"]["val_fraction"] == 0.05


def test_val_and_test_must_leave_text_to_train_on(tmp_path):
    path = write(tmp_path, committed_params().replace("val_fraction: 0.05", "val_fraction: 0.45").replace("test_fraction: 0.05", "test_fraction: 0.45"))
    with pytest.raises(UserError, match="'vocab.val_fraction' \\+ 'vocab.test_fraction' must be < 0.9"):
        params.load("vocab", path)


def test_corpus_path_and_url_together_are_refused(tmp_path):
    text = committed_params().replace('path: ""', 'path: "a.txt"').replace('url: ""', 'url: "http://x/y"')
    with pytest.raises(UserError, match="corpus.path.*corpus.url"):
        params.load("download", write(tmp_path, text))


@pytest.mark.parametrize("stage, section", [("train_charrnn", "charrnn"), ("train_wavernn", "wavernn")])
def test_a_weight_decay_that_would_flip_the_weights_sign_is_refused(tmp_path, stage, section):
    data = YAML(typ="safe").load(committed_params())
    data[section].update(lr=0.01, weight_decay=99.0)  # lr x weight_decay 0.99: allowed, each step keeps 1 % of a weight
    path = tmp_path / "params.yaml"
    YAML().dump(data, path)
    params.load(stage, path)
    data[section]["weight_decay"] = 100.0
    YAML().dump(data, path)
    with pytest.raises(UserError, match=f"'{section}.lr' x '{section}.weight_decay' must be < 1 \\(it is 1;"):
        params.load(stage, path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(UserError, match="params.yaml: file not found"):
        params.load("download", tmp_path / "params.yaml")


def test_warmup_must_leave_steps_to_score(tmp_path):
    path = write(tmp_path, committed_params().replace("warmup: 100 ", "warmup: 999 "))
    with pytest.raises(UserError, match="evaluate_wave.warmup"):
        params.load("evaluate_wave", path)


PLUMBING = {"params", "io", "cli"}  # not listed in dvc.yaml, so that a new parameter reruns nothing else


def lib_imports(path):
    """The stages.lib modules a file imports, directly or through other stages.lib modules."""
    import ast

    found, pending = set(), [path]
    while pending:
        tree = ast.parse(pending.pop().read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.module == "stages.lib" or (node.level == 1 and node.module is None):
                names = [alias.name for alias in node.names]
            elif node.module and node.module.startswith("stages.lib."):
                names = [node.module.split(".")[-1]]
            elif node.level == 1:
                names = [node.module]
            else:
                continue
            for name in set(names) - found:
                found.add(name)
                pending.append(ROOT / "stages/lib" / f"{name}.py")
    return found


def test_dvc_yaml_lists_every_library_module_a_stage_imports():
    stages = YAML(typ="safe").load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        listed = {Path(dep).stem for dep in stage["deps"] if dep.startswith("stages/lib/")}
        assert f"stages/{name}.py" in stage["deps"], name
        assert listed == lib_imports(ROOT / f"stages/{name}.py") - PLUMBING, name


def leaf_keys(schema, prefix=""):
    """(dotted key, Spec) of every parameter."""
    for key, spec in schema.items():
        if isinstance(spec, dict):
            yield from leaf_keys(spec, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", spec


def bad_values(spec):
    """Values no parameter of this kind may take: wrong types, a list, NaN, negative, absurdly large."""
    if spec.kind is str:
        return [1, 2.5, True, [], ["a"], {"a": 1}, None] + (["", "nonsense"] if spec.choices else [])
    if spec.kind is bool:
        return ["yes please", 2, [], None, float("nan")]
    wrong = ["many", "", [], [1], {"a": 1}, None, float("nan"), -1, -0.5]
    return wrong + ([10**12, 2.5] if spec.kind is int else [float("inf")])


@pytest.mark.parametrize("key, spec", list(leaf_keys(params.SCHEMA)))
def test_every_key_refuses_bad_values_with_a_message_naming_it(tmp_path, key, spec):
    yaml = YAML(typ="safe", pure=True)
    stage = next(name for name, keys in params.STAGE_PARAMS.items() if key.split(".")[0] in keys)
    committed = yaml.load(committed_params())
    for value in bad_values(spec):
        data = copy.deepcopy(committed)
        *sections, leaf = key.split(".")
        node = data
        for section in sections:
            node = node[section]
        node[leaf] = value
        path = tmp_path / "params.yaml"
        with path.open("w") as f:
            yaml.dump(data, f)
        with pytest.raises(UserError, match=f"'{key}'") as error:
            params.load(stage, path)
        assert "\n" not in str(error.value), (key, value)


@pytest.mark.parametrize("stage, change", [("train_charrnn", ("seed: 0 ", "seed: 4294967296 ")),
                                           ("generate", ("length: 2000", "length: 1000000000")),
                                           ("train_wavernn", ("eval_every: 250         #", "eval_every: [1, 2]     #"))])
def test_a_bad_value_exits_2_with_one_line_and_no_traceback(project, stage, change):
    path = project / "params.yaml"
    path.write_text((ROOT / "params.yaml").read_text().replace(*change, 1))
    result = python_stage(stage, project, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: params.yaml: '")
    assert "Traceback" not in result.stderr

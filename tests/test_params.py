from pathlib import Path

import pytest
from ruamel.yaml import YAML

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
        ("val_fraction: 0.1", "val_fraction: 0.0", "vocab.val_fraction"),
        ("val_fraction: 0.1", "val_fraction: high", "vocab.val_fraction"),
        ("max_order: 7", "max_order: 0", "ngram.max_order"),
        ("max_order: 7", "max_order: 2.5", "ngram.max_order"),
        ("max_order: 7", "max_order: true", "ngram.max_order"),
        ("cell: lstm            #", "cell: transformer     #", "cell"),
        ("hidden_size: 512", "hidden_size: -4", "hidden_size"),
        ("feedback_start: 0.5", "feedback_start: 1.5", "wavernn.feedback_start"),
        ("device: auto        #", "device: tpu         #", "charrnn.device"),
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
    assert params.load("vocab", path)["vocab"]["val_fraction"] == 0.1


def test_int_is_accepted_for_float_and_yaml_1_2_exponents_parse(tmp_path):
    path = write(tmp_path, committed_params().replace("val_fraction: 0.1", "val_fraction: 1e-1"))
    assert params.load("vocab", path)["vocab"]["val_fraction"] == 0.1


def test_corpus_path_and_url_together_are_refused(tmp_path):
    text = committed_params().replace('path: ""', 'path: "a.txt"').replace('url: ""', 'url: "http://x/y"')
    with pytest.raises(UserError, match="corpus.path.*corpus.url"):
        params.load("download", write(tmp_path, text))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(UserError, match="params.yaml: file not found"):
        params.load("download", tmp_path / "params.yaml")


def test_warmup_must_leave_steps_to_score(tmp_path):
    path = write(tmp_path, committed_params().replace("warmup: 100 ", "warmup: 999 "))
    with pytest.raises(UserError, match="evaluate_wave.warmup"):
        params.load("evaluate_wave", path)

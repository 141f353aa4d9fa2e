"""Comparing runs over seeds: stages.lib.stats against SciPy and statsmodels on known samples, and
stages.lib.experiments' groups (params and code), seeds and machines on runs built here and on the
project's own dvc.yaml and dvc.lock read through DVC."""

import math
import statistics

import numpy as np
import pytest
from dvc.repo import Repo
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_ind, ttost_paired

from conftest import ROOT
from stages.lib import experiments, stats

CHAR, WAVE = "metrics/charrnn.json:val_loss", "metrics/wave.json:mse_mean"
BASE = {"hidden_size": 16, "charrnn.lr": 0.003, "charrnn.seed": 0, "wavernn.seed": 0, "generate.seed": 0}
CODE = {"stages/train_charrnn.py": "c0", "stages/lib/models.py": "m0", "stages/train_wavernn.py": "w0", "stages/lib/waves.py": "v0"}


def by_seed(*values):
    """{seed: value} for seeds 0, 1, 2, ..."""
    return dict(enumerate(values))


def test_summary_is_the_t_interval_of_the_mean():
    sample = np.array([1.2, 1.5, 1.1, 1.9])
    result = stats.summary(sample)
    mean, std = statistics.fmean(sample), statistics.stdev(sample)
    half = 3.182446305284263 * std / 2  # t(0.975, 3 degrees of freedom), from a table
    assert result["n"] == 4
    assert result["mean"] == pytest.approx(mean) and result["std"] == pytest.approx(std)
    assert (result["low"], result["high"]) == pytest.approx((mean - half, mean + half))


def test_one_seed_has_no_spread():
    assert stats.summary([1.3]) == {"n": 1, "mean": 1.3, "std": None, "low": None, "high": None}


def test_groups_without_a_shared_seed_get_welchs_test():
    sample, baseline = [1.30, 1.32, 1.29, 1.35, 1.31], [1.36, 1.41, 1.38]
    result = stats.versus(dict(zip(range(10, 15), sample)), by_seed(*baseline))
    reference = scipy_stats.ttest_ind(sample, baseline, equal_var=False)
    interval = reference.confidence_interval(0.95)
    assert result.test == stats.WELCH and result.pairs == 0
    assert result.difference == pytest.approx(np.mean(sample) - np.mean(baseline))
    assert result.p == pytest.approx(reference.pvalue)
    assert (result.low, result.high) == pytest.approx((interval.low, interval.high))
    va, vb = np.var(sample, ddof=1) / 5, np.var(baseline, ddof=1) / 3  # and by hand: Welch-Satterthwaite
    df = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 2)
    assert result.p == pytest.approx(2 * scipy_stats.t.sf(abs(result.difference) / math.sqrt(va + vb), df))


def test_groups_that_share_seeds_get_a_paired_test_on_the_per_seed_differences():
    baseline = {0: 1.352, 1: 1.371, 2: 1.344, 3: 1.362}
    sample = {3: 1.366, 1: 1.377, 0: 1.355, 2: 1.349}  # another order: pairs go by seed
    seeds = sorted(baseline)
    result = stats.versus(sample, baseline)
    reference = scipy_stats.ttest_rel([sample[s] for s in seeds], [baseline[s] for s in seeds])
    interval = reference.confidence_interval(0.95)
    assert result.test == stats.PAIRED and result.pairs == 4
    assert result.difference == pytest.approx(np.mean([sample[s] - baseline[s] for s in seeds]))
    assert result.p == pytest.approx(reference.pvalue)
    assert (result.low, result.high) == pytest.approx((interval.low, interval.high))
    welch = scipy_stats.ttest_ind(list(sample.values()), list(baseline.values()), equal_var=False)
    assert result.p < 0.05 < welch.pvalue  # the seed's own luck cancels: the same runs tell more


def test_a_paired_test_uses_the_shared_seeds_and_one_shared_seed_is_not_enough():
    baseline, sample = by_seed(1.30, 1.33, 1.31, 1.35), {1: 1.36, 2: 1.33, 3: 1.38, 7: 1.50}
    result = stats.versus(sample, baseline)
    assert result.test == stats.PAIRED and result.pairs == 3
    assert result.p == pytest.approx(scipy_stats.ttest_rel([1.36, 1.33, 1.38], [1.33, 1.31, 1.35]).pvalue)
    one = stats.versus({0: 1.32, 8: 1.36, 9: 1.31}, baseline)
    assert one.test == stats.WELCH
    assert one.p == pytest.approx(scipy_stats.ttest_ind([1.32, 1.36, 1.31], list(baseline.values()), equal_var=False).pvalue)


@pytest.mark.parametrize("margin", [0.01, 0.02, 0.05])
def test_the_paired_equivalence_test_is_two_one_sided_tests(margin):
    baseline = {0: 1.352, 1: 1.371, 2: 1.344, 3: 1.362, 4: 1.358}
    sample = {0: 1.355, 1: 1.369, 2: 1.349, 3: 1.366, 4: 1.357}
    a, b = [sample[s] for s in baseline], list(baseline.values())
    result = stats.versus(sample, baseline, margin)
    assert result.equivalence_p == pytest.approx(ttost_paired(np.array(a), np.array(b), -margin, margin)[0])
    above = scipy_stats.ttest_rel(np.add(a, margin), b, alternative="greater").pvalue  # difference > -margin
    below = scipy_stats.ttest_rel(np.subtract(a, margin), b, alternative="less").pvalue  # difference < +margin
    assert result.equivalence_p == pytest.approx(max(above, below))


@pytest.mark.parametrize("margin", [0.01, 0.03, 0.1])
def test_the_welch_equivalence_test_is_two_one_sided_welch_tests(margin):
    sample, baseline = [1.35, 1.37, 1.34, 1.36], [1.36, 1.38, 1.35]
    result = stats.versus(dict(zip(range(10, 14), sample)), by_seed(*baseline), margin)
    assert result.test == stats.WELCH
    assert result.equivalence_p == pytest.approx(ttost_ind(np.array(sample), np.array(baseline), -margin, margin, usevar="unequal")[0])
    above = scipy_stats.ttest_ind(np.add(sample, margin), baseline, equal_var=False, alternative="greater").pvalue
    below = scipy_stats.ttest_ind(np.subtract(sample, margin), baseline, equal_var=False, alternative="less").pvalue
    assert result.equivalence_p == pytest.approx(max(above, below))


def test_holm_on_a_worked_example_and_as_statsmodels_has_it():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> running maximum 0.02, 0.03, 0.06, 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.01, None, 0.04]) == [pytest.approx(0.02), None, pytest.approx(0.04)]  # no test, no count
    assert stats.holm([0.6, 0.5]) == [1.0, 1.0]
    assert stats.holm([]) == []


@settings(max_examples=20, deadline=None)  # statsmodels takes some 50 ms a call
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_agrees_with_statsmodels(pvalues):
    assert stats.holm(pvalues) == pytest.approx(list(multipletests(pvalues, method="holm")[1]))


def test_two_groups_without_spread_get_no_p_value_and_say_why():
    welch = stats.versus(by_seed(1.30, 1.30), {5: 1.35, 6: 1.35, 7: 1.35}, margin=0.1)
    assert welch.p is welch.equivalence_p is None and welch.reason == stats.NO_SPREAD
    assert welch.difference == pytest.approx(-0.05)
    shifted = stats.versus(by_seed(1.30 + 0.01, 1.41 + 0.01, 1.37 + 0.01), by_seed(1.30, 1.41, 1.37))  # the same shift on every seed
    assert shifted.p is None and shifted.reason == stats.NO_SPREAD_PAIRED and shifted.test == stats.PAIRED
    row = stats.against_baseline([by_seed(1.30, 1.30), {5: 1.35, 6: 1.35}], 0)[1]
    assert row.p_adjusted is None and row.verdict == f"no p-value: {stats.NO_SPREAD}"
    one_spread = stats.versus(by_seed(1.30, 1.30), {5: 1.35, 6: 1.36})  # one group with spread: Welch, here a one-sample t
    assert one_spread.p == pytest.approx(scipy_stats.ttest_1samp([1.35, 1.36], 1.30).pvalue)


def test_one_seed_on_either_side_gives_no_p_value():
    result = stats.versus(by_seed(1.30), {4: 1.35, 5: 1.36})
    assert result.p is None and result.test is None and result.reason == stats.TOO_FEW
    assert result.difference == pytest.approx(-0.055)


def test_the_words_say_what_the_test_shows():
    clear = stats.versus(by_seed(1.30, 1.31, 1.29, 1.30), by_seed(1.36, 1.38, 1.37, 1.36), margin=0.01)
    assert stats.verdict(clear, clear.p, clear.equivalence_p, None, False) == "better"
    assert stats.verdict(clear, clear.p, clear.equivalence_p, None, True) == "worse"
    assert stats.verdict(clear, clear.p, clear.equivalence_p, 0.01, False) == "better, no evidence of being equivalent within ±0.01"
    overlap = stats.versus(by_seed(1.352, 1.360, 1.368), {5: 1.349, 6: 1.356, 7: 1.359}, margin=0.05)
    assert overlap.p > 0.05 and overlap.equivalence_p < 0.05
    assert stats.verdict(overlap, overlap.p, overlap.equivalence_p, None, False) == "no evidence of a difference"
    assert stats.verdict(overlap, overlap.p, overlap.equivalence_p, 0.05, False) == "no evidence of a difference, equivalent within ±0.05"
    assert stats.verdict(overlap, overlap.p, 0.2, 0.05, False) == "no evidence of a difference, no evidence of being equivalent within ±0.05"


def test_against_a_baseline_the_p_values_are_holm_adjusted_over_the_groups_compared():
    baseline = by_seed(1.350, 1.362, 1.344, 1.357)
    samples = [by_seed(1.352, 1.369, 1.349, 1.366), baseline, {7: 1.30, 8: 1.31, 9: 1.29}, by_seed(1.351, 1.361, 1.346, 1.358), {9: 1.4}]
    rows = stats.against_baseline(samples, 1, margin=0.02, higher_is_better=False)
    assert rows[1].difference is None and rows[1].verdict == "" and rows[1].summary == stats.summary(baseline.values())
    raw = [rows[i].difference.p for i in (0, 2, 3)]
    assert [rows[i].p_adjusted for i in (0, 2, 3)] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    equivalence = [rows[i].difference.equivalence_p for i in (0, 2, 3)]
    assert [rows[i].equivalence_adjusted for i in (0, 2, 3)] == pytest.approx(list(multipletests(equivalence, method="holm")[1]))
    assert rows[4].p_adjusted is None and rows[4].verdict == f"no p-value: {stats.TOO_FEW}"  # one seed: not in the family
    assert rows[2].difference.test == stats.WELCH and rows[2].verdict.startswith("better")
    assert rows[0].difference.test == stats.PAIRED and rows[0].p_adjusted >= rows[0].difference.p


def stage(deps, outs, params=()):
    return experiments.Stage(deps=deps, outs=frozenset(outs), params=frozenset(params))


def pipeline(code):
    """A char model and a wave model as the project's dvc.yaml has them, with these code hashes."""
    return {
        "vocab": stage({"stages/vocab.py": "vo", "data/raw/corpus.txt": "raw"}, ["data/train.npy"], ["vocab"]),
        "train_charrnn": stage({"stages/train_charrnn.py": code["stages/train_charrnn.py"], "stages/lib/models.py": code["stages/lib/models.py"],
                                "data/train.npy": "d0"}, ["data/charrnn.pt", "metrics/charrnn.json"], ["hidden_size", "charrnn"]),
        "train_wavernn": stage({"stages/train_wavernn.py": code["stages/train_wavernn.py"], "stages/lib/models.py": code["stages/lib/models.py"]},
                               ["data/wavernn.pt", "metrics/wavernn_train.json"], ["wavernn"]),
        "evaluate_wave": stage({"stages/lib/waves.py": code["stages/lib/waves.py"], "data/wavernn.pt": "w"}, ["metrics/wave.json"], ["evaluate_wave"]),
    }


def run(name, metrics=None, code=None, **changes):
    params = {**BASE, **{key.replace("__", "."): value for key, value in changes.items()}}
    metrics = metrics or {"metrics/charrnn.json": {"val_loss": 1.35}, "metrics/wave.json": {"mse_mean": 7e-6}}
    return experiments.Run(name=name, rev=name, params=params, metrics=metrics, stages=pipeline({**CODE, **(code or {})}))


def names(groups):
    return [[r.name for r in group.runs] for group in groups]


def test_seeds_are_ignored_and_any_other_param_splits_a_group():
    runs = [run("a"), run("b", charrnn__seed=1), run("c", wavernn__seed=5, generate__seed=2), run("d", hidden_size=32), run("e", charrnn__lr=0.001)]
    groups = experiments.group_runs(runs, CHAR)
    assert names(groups) == [["a", "b", "c"], ["d"], ["e"]]
    assert experiments.labels(groups) == ["charrnn.lr=0.003, hidden_size=16", "charrnn.lr=0.003, hidden_size=32", "charrnn.lr=0.001, hidden_size=16"]
    assert experiments.labels(groups[:1]) == ["(one group)"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(0, 100), st.integers(0, 100), st.integers(0, 1)), min_size=1, max_size=12))
def test_groups_are_the_distinct_params_and_code_whatever_the_seeds(drawn):
    runs = [run(str(i), hidden_size=size, charrnn__lr=lr, charrnn__seed=a, wavernn__seed=b, code={"stages/lib/models.py": f"m{edit}"})
            for i, (size, lr, a, b, edit) in enumerate(drawn)]
    groups = experiments.group_runs(runs, CHAR)
    assert len(groups) == len({(size, lr, edit) for size, lr, _, _, edit in drawn})
    assert sorted(r.name for g in groups for r in g.runs) == sorted(r.name for r in runs)
    assert len(set(experiments.labels(groups))) == len(groups)  # each says what sets it apart


def test_a_code_edit_is_a_group_of_its_own_and_its_label_names_the_file_and_a_run():
    runs = [run("workspace"), run("main"), run("seed-1", {"metrics/charrnn.json": {"val_loss": 1.36}}, charrnn__seed=1),
            run("edited-0", {"metrics/charrnn.json": {"val_loss": 1.34}}, code={"stages/lib/models.py": "m1"}),
            run("edited-1", {"metrics/charrnn.json": {"val_loss": 1.37}}, code={"stages/lib/models.py": "m1"}, charrnn__seed=1)]
    groups = experiments.group_runs(runs, CHAR)
    assert names(groups) == [["workspace", "main", "seed-1"], ["edited-0", "edited-1"]]
    assert experiments.labels(groups) == ["code: stages/lib/models.py as in main", "code: stages/lib/models.py as in edited-0"]
    # the same seed, params and code twice is one run; the same seed on other code is another
    assert groups[0].sample(CHAR) == {(("charrnn.seed", 0),): 1.35, (("charrnn.seed", 1),): 1.36} and groups[0].reruns(CHAR) == 1
    assert groups[1].sample(CHAR) == {(("charrnn.seed", 0),): 1.34, (("charrnn.seed", 1),): 1.37} and groups[1].reruns(CHAR) == 0
    paired = stats.versus(groups[1].sample(CHAR), groups[0].sample(CHAR))
    assert paired.test == stats.PAIRED and paired.pairs == 2


def test_only_the_code_a_metric_comes_from_splits_its_groups():
    runs = [run("main"), run("waves-edited", code={"stages/lib/waves.py": "v1"}), run("wider", hidden_size=32, code={"stages/lib/waves.py": "v1"})]
    assert names(experiments.group_runs(runs, CHAR)) == [["main", "waves-edited"], ["wider"]]
    wave_groups = experiments.group_runs(runs, WAVE)
    assert names(wave_groups) == [["main"], ["waves-edited"], ["wider"]]
    assert experiments.labels(wave_groups) == ["hidden_size=16; code: stages/lib/waves.py as in main", "hidden_size=16; code: stages/lib/waves.py as in waves-edited",
                                               "hidden_size=32; code: stages/lib/waves.py as in waves-edited"]  # one version of the code, one name
    assert "data/train.npy" not in dict(runs[0].code(CHAR))  # an output of another stage is data, not code
    assert dict(runs[0].code(CHAR))["stages/lib/models.py"] == "m0"


def test_runs_without_the_metric_are_in_no_group():
    runs = [run("main"), run("text-only", {"metrics/charrnn.json": {"val_loss": 1.3}})]
    assert names(experiments.group_runs(runs, WAVE)) == [["main"]]


def test_the_machine_of_a_metric_is_the_one_that_trained_its_model():
    trained, evaluated = {"cpu": "AMD EPYC (family 25 model 17, bfloat16: avx512_bf16)", "threads": 1, "device": "cuda"}, {"cpu": "Xeon", "threads": 2, "device": "cpu"}
    metrics = {"metrics/wavernn_train.json": trained, "metrics/wave.json": {"mse_mean": 7e-6, **evaluated}, "metrics/charrnn.json": {"val_loss": 1.3, **evaluated}}
    subject = run("main", metrics)
    assert subject.machines(WAVE) == (tuple(trained.values()),)
    assert subject.machines(CHAR) == (tuple(evaluated.values()),)
    assert run("main", {"metrics/wave.json": {"mse_mean": 7e-6}}).machines(WAVE) == ()


@pytest.fixture(scope="module")
def project_stages():
    """The stages of this checkout's dvc.yaml, with dvc.lock's hashes, as DVC's repo API loads them."""
    with Repo(ROOT) as repo:
        return experiments.load_stages(repo, "workspace")


def test_each_metric_has_the_seeds_and_code_of_the_stages_that_make_it(project_stages):
    subject = experiments.Run("workspace", "workspace", {}, {}, project_stages)
    assert subject.seeds(CHAR) == ("charrnn.seed",)
    assert subject.seeds("metrics/mix.json:test_loss_mix") == ("charrnn.seed",)
    assert subject.seeds(WAVE) == ("wavernn.seed",)
    assert subject.seeds("metrics/ngram.json:test_loss") == ()
    assert subject.seeds("elsewhere.json:x") == experiments.SEED_KEYS  # a file no stage writes: every seed may matter
    assert subject.lineage(WAVE) == {"train_wavernn", "evaluate_wave"}
    code = dict(subject.code(WAVE))
    assert {"stages/train_wavernn.py", "stages/evaluate_wave.py", "stages/lib/models.py"} <= set(code) and "data/wavernn.pt" not in code
    assert all(len(digest) == 32 for digest in code.values())  # dvc.lock's md5
    assert "stages/lib/text.py" in dict(subject.code(CHAR)) and "stages/lib/text.py" not in code


def test_a_new_stage_that_reads_a_checkpoint_takes_its_seeds_code_and_machine_from_the_trainer(project_stages):
    dynamic = stage({"stages/dynamic_eval.py": "de", "data/charrnn.pt": "ck", "data/val.npy": "v"}, ["metrics/dynamic.json"], ["dynamic_eval"])
    machine = {"cpu": "Xeon (family 6 model 143, bfloat16: amx)", "threads": 4, "device": "cpu"}
    metrics = {"metrics/charrnn.json": {"val_loss": 1.3, **machine}, "metrics/dynamic.json": {"val_loss": 1.2, "cpu": "other", "threads": 1, "device": "cpu"}}
    subject = experiments.Run("x", "x", {}, metrics, {**project_stages, "dynamic_eval": dynamic})
    metric = "metrics/dynamic.json:val_loss"
    assert subject.seeds(metric) == ("charrnn.seed",)
    assert {"dynamic_eval", "train_charrnn"} <= subject.lineage(metric)
    assert {"stages/dynamic_eval.py", "stages/lib/models.py", "stages/train_charrnn.py"} <= set(dict(subject.code(metric)))
    assert subject.machines(metric) == (tuple(machine.values()),)


def test_a_metric_must_name_its_file_and_key():
    with pytest.raises(experiments.UserError, match="FILE:KEY"):
        experiments.split_metric("val_loss")


def test_a_machine_reads_as_words_one_thread_singular():
    assert experiments.machine_label("AMD EPYC (family 25 model 17)", 1, "cpu") == "AMD EPYC (family 25 model 17), 1 thread, cpu"
    assert experiments.machine_label("Xeon", 2, "NVIDIA H100") == "Xeon, 2 threads, NVIDIA H100"

"""stages.lib.compare and stages.lib.stats: statistics against SciPy and statsmodels, grouping over seeds, and which seeds a metric has."""

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_ind, ttost_paired

from conftest import ROOT
from stages.lib import compare
from stages.lib import stats as lib_stats

BASE = {"hidden_size": 16, "charrnn.lr": 0.003, "charrnn.seed": 0, "wavernn.seed": 0, "generate.seed": 0}


def run(name, metrics=None, **changes):
    params = {**BASE, **{key.replace("__", "."): value for key, value in changes.items()}}
    return compare.Run(name=name, rev=name, params=params, metrics=metrics or {})


def test_summary_is_the_t_interval_of_the_mean():
    sample = np.array([1.2, 1.5, 1.1, 1.9])
    result = compare.summary(sample)
    mean, std = statistics.fmean(sample), statistics.stdev(sample)
    half = 3.182446305284263 * std / 2  # t(0.975, 3 degrees of freedom), from a table
    assert result["n"] == 4
    assert result["mean"] == pytest.approx(mean) and result["std"] == pytest.approx(std)
    assert (result["low"], result["high"]) == pytest.approx((mean - half, mean + half))


def test_one_seed_has_no_spread():
    assert compare.summary(np.array([1.3])) == {"n": 1, "mean": 1.3, "std": None, "low": None, "high": None}


def test_difference_interval_and_p_value_are_welchs():
    sample, baseline = np.array([1.30, 1.32, 1.29, 1.35, 1.31]), np.array([1.36, 1.41, 1.38])
    result = compare.versus(sample, baseline)
    va, vb = sample.var(ddof=1) / len(sample), baseline.var(ddof=1) / len(baseline)
    df = (va + vb) ** 2 / (va**2 / (len(sample) - 1) + vb**2 / (len(baseline) - 1))  # Welch-Satterthwaite
    difference = sample.mean() - baseline.mean()
    t = difference / math.sqrt(va + vb)
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert result["difference"] == pytest.approx(difference)
    assert result["p"] == pytest.approx(2 * stats.t.sf(abs(t), df))
    assert (result["low"], result["high"]) == pytest.approx((difference - half, difference + half))
    assert result["verdict"] == "better"  # lower, and p < 0.05
    assert compare.versus(baseline, sample)["verdict"] == "worse"
    assert compare.versus(sample, baseline, higher_is_better=True)["verdict"] == "worse"


def test_overlapping_groups_are_within_noise_and_say_how_many_seeds_would_tell():
    sample, baseline = np.array([1.352, 1.360, 1.368]), np.array([1.349, 1.356, 1.359])
    result = compare.versus(sample, baseline)
    assert result["verdict"] == "within noise" and result["p"] > 0.05
    assert result["low"] < 0 < result["high"]
    assert 3 < result["seeds_needed"] < 100
    assert compare.versus(baseline + 0.0001, baseline)["seeds_needed"] is None  # too small to tell with 1000 seeds


def test_one_seed_on_either_side_gives_no_verdict():
    result = compare.versus(np.array([1.30]), np.array([1.35, 1.36]))
    assert result["verdict"].startswith("spread unknown") and result["p"] is None


@pytest.mark.parametrize("difference, std", [(0.01, 0.008), (0.005, 0.0077), (1.0, 0.5)])
def test_seeds_to_tell_reaches_80_percent_power_and_no_fewer_do(difference, std):
    n = compare.seeds_to_tell(difference, std)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    approximate = 2 * (z * std / difference) ** 2  # the normal approximation, a slight under-estimate
    assert approximate <= n <= approximate + 3

    def power(seeds):  # by simulation: Welch's test on normal samples with that difference
        rng = np.random.default_rng(0)
        a = rng.normal(difference, std, size=(4000, seeds))
        b = rng.normal(0.0, std, size=(4000, seeds))
        return float((stats.ttest_ind(a, b, axis=1, equal_var=False).pvalue < 0.05).mean())

    assert power(n) >= 0.77
    if n > 2:
        assert power(n - 1) < 0.8 + 0.02


def test_seeds_are_ignored_and_any_other_param_splits_a_group():
    runs = [run("a"), run("b", charrnn__seed=1), run("c", wavernn__seed=5, generate__seed=2), run("d", hidden_size=32), run("e", charrnn__lr=0.001)]
    groups = compare.group_runs(runs)
    assert [[r.name for r in group.runs] for group in groups] == [["a", "b", "c"], ["d"], ["e"]]
    assert groups[1].label([groups[0]]) == "hidden_size=32"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(0, 100), st.integers(0, 100)), min_size=1, max_size=12))
def test_groups_are_the_distinct_non_seed_params_whatever_the_seeds(drawn):
    runs = [run(str(i), hidden_size=size, charrnn__lr=lr, charrnn__seed=a, wavernn__seed=b) for i, (size, lr, a, b) in enumerate(drawn)]
    groups = compare.group_runs(runs)
    assert len(groups) == len({(size, lr) for size, lr, _, _ in drawn})
    assert sorted(r.name for g in groups for r in g.runs) == sorted(r.name for r in runs)


def test_a_run_of_the_same_seeds_counts_once_and_another_models_seed_does_not_count():
    metric = "metrics/charrnn.json:val_loss"
    runs = [run("workspace", {"metrics/charrnn.json": {"val_loss": 1.35}}), run("main", {"metrics/charrnn.json": {"val_loss": 1.35}}),
            run("wave-seed", {"metrics/charrnn.json": {"val_loss": 1.35}}, wavernn__seed=1),
            run("char-seed", {"metrics/charrnn.json": {"val_loss": 1.36}}, charrnn__seed=1)]
    [group] = compare.group_runs(runs)
    assert sorted(group.sample(metric, ("charrnn.seed",))) == [1.35, 1.36]


def test_each_metric_has_the_seeds_of_the_stages_that_make_it():
    graph = compare.stage_graph(ROOT / "dvc.yaml")
    assert compare.metric_seeds("metrics/charrnn.json:val_loss", graph) == ("charrnn.seed",)
    assert compare.metric_seeds("metrics/mix.json:test_loss_mix", graph) == ("charrnn.seed",)
    assert compare.metric_seeds("metrics/wave.json:mse_mean", graph) == ("wavernn.seed",)
    assert compare.metric_seeds("metrics/ngram.json:test_loss", graph) == ()
    assert compare.metric_seeds("elsewhere.json:x", graph) == compare.SEED_KEYS


def test_a_metric_must_name_its_file_and_key():
    with pytest.raises(compare.UserError, match="FILE:KEY"):
        compare.split_metric("val_loss")

def by_seed(*values):
    """{seed: value} for seeds 0, 1, 2, ..."""
    return dict(enumerate(values))


def test_groups_without_a_shared_seed_get_welchs_test():
    sample, baseline = [1.30, 1.32, 1.29, 1.35, 1.31], [1.36, 1.41, 1.38]
    result = lib_stats.versus(dict(zip(range(10, 15), sample)), by_seed(*baseline))
    reference = scipy_stats.ttest_ind(sample, baseline, equal_var=False)
    interval = reference.confidence_interval(0.95)
    assert result.test == lib_stats.WELCH and result.pairs == 0
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
    result = lib_stats.versus(sample, baseline)
    reference = scipy_stats.ttest_rel([sample[s] for s in seeds], [baseline[s] for s in seeds])
    interval = reference.confidence_interval(0.95)
    assert result.test == lib_stats.PAIRED and result.pairs == 4
    assert result.difference == pytest.approx(np.mean([sample[s] - baseline[s] for s in seeds]))
    assert result.p == pytest.approx(reference.pvalue)
    assert (result.low, result.high) == pytest.approx((interval.low, interval.high))
    welch = scipy_stats.ttest_ind(list(sample.values()), list(baseline.values()), equal_var=False)
    assert result.p < 0.05 < welch.pvalue  # the seed's own luck cancels: the same runs tell more


def test_a_paired_test_uses_the_shared_seeds_and_one_shared_seed_is_not_enough():
    baseline, sample = by_seed(1.30, 1.33, 1.31, 1.35), {1: 1.36, 2: 1.33, 3: 1.38, 7: 1.50}
    result = lib_stats.versus(sample, baseline)
    assert result.test == lib_stats.PAIRED and result.pairs == 3
    assert result.p == pytest.approx(scipy_stats.ttest_rel([1.36, 1.33, 1.38], [1.33, 1.31, 1.35]).pvalue)
    one = lib_stats.versus({0: 1.32, 8: 1.36, 9: 1.31}, baseline)
    assert one.test == lib_stats.WELCH
    assert one.p == pytest.approx(scipy_stats.ttest_ind([1.32, 1.36, 1.31], list(baseline.values()), equal_var=False).pvalue)


@pytest.mark.parametrize("margin", [0.01, 0.02, 0.05])
def test_the_paired_equivalence_test_is_two_one_sided_tests(margin):
    baseline = {0: 1.352, 1: 1.371, 2: 1.344, 3: 1.362, 4: 1.358}
    sample = {0: 1.355, 1: 1.369, 2: 1.349, 3: 1.366, 4: 1.357}
    a, b = [sample[s] for s in baseline], list(baseline.values())
    result = lib_stats.versus(sample, baseline, margin)
    assert result.equivalence_p == pytest.approx(ttost_paired(np.array(a), np.array(b), -margin, margin)[0])
    above = scipy_stats.ttest_rel(np.add(a, margin), b, alternative="greater").pvalue  # difference > -margin
    below = scipy_stats.ttest_rel(np.subtract(a, margin), b, alternative="less").pvalue  # difference < +margin
    assert result.equivalence_p == pytest.approx(max(above, below))


@pytest.mark.parametrize("margin", [0.01, 0.03, 0.1])
def test_the_welch_equivalence_test_is_two_one_sided_welch_tests(margin):
    sample, baseline = [1.35, 1.37, 1.34, 1.36], [1.36, 1.38, 1.35]
    result = lib_stats.versus(dict(zip(range(10, 14), sample)), by_seed(*baseline), margin)
    assert result.test == lib_stats.WELCH
    assert result.equivalence_p == pytest.approx(ttost_ind(np.array(sample), np.array(baseline), -margin, margin, usevar="unequal")[0])
    above = scipy_stats.ttest_ind(np.add(sample, margin), baseline, equal_var=False, alternative="greater").pvalue
    below = scipy_stats.ttest_ind(np.subtract(sample, margin), baseline, equal_var=False, alternative="less").pvalue
    assert result.equivalence_p == pytest.approx(max(above, below))


def test_holm_on_a_worked_example_and_as_statsmodels_has_it():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> running maximum 0.02, 0.03, 0.06, 0.06
    assert lib_stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert lib_stats.holm([0.01, None, 0.04]) == [pytest.approx(0.02), None, pytest.approx(0.04)]  # no test, no count
    assert lib_stats.holm([0.6, 0.5]) == [1.0, 1.0]
    assert lib_stats.holm([]) == []


@settings(max_examples=20, deadline=None)  # statsmodels takes some 50 ms a call
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_agrees_with_statsmodels(pvalues):
    assert lib_stats.holm(pvalues) == pytest.approx(list(multipletests(pvalues, method="holm")[1]))


def test_two_groups_without_spread_get_no_p_value_and_say_why():
    welch = lib_stats.versus(by_seed(1.30, 1.30), {5: 1.35, 6: 1.35, 7: 1.35}, margin=0.1)
    assert welch.p is welch.equivalence_p is None and welch.reason == lib_stats.NO_SPREAD
    assert welch.difference == pytest.approx(-0.05)
    shifted = lib_stats.versus(by_seed(1.30 + 0.01, 1.41 + 0.01, 1.37 + 0.01), by_seed(1.30, 1.41, 1.37))  # the same shift on every seed
    assert shifted.p is None and shifted.reason == lib_stats.NO_SPREAD_PAIRED and shifted.test == lib_stats.PAIRED
    row = lib_stats.against_baseline([by_seed(1.30, 1.30), {5: 1.35, 6: 1.35}], 0)[1]
    assert row.p_adjusted is None and row.verdict == f"no p-value: {lib_stats.NO_SPREAD}"
    one_spread = lib_stats.versus(by_seed(1.30, 1.30), {5: 1.35, 6: 1.36})  # one group with spread: Welch, here a one-sample t
    assert one_spread.p == pytest.approx(scipy_stats.ttest_1samp([1.35, 1.36], 1.30).pvalue)


def test_one_seed_on_either_side_gives_no_p_value():
    result = lib_stats.versus(by_seed(1.30), {4: 1.35, 5: 1.36})
    assert result.p is None and result.test is None and result.reason == lib_stats.TOO_FEW
    assert result.difference == pytest.approx(-0.055)


def test_the_words_say_what_the_test_shows():
    clear = lib_stats.versus(by_seed(1.30, 1.31, 1.29, 1.30), by_seed(1.36, 1.38, 1.37, 1.36), margin=0.01)
    assert lib_stats.verdict(clear, clear.p, clear.equivalence_p, None, False) == "better"
    assert lib_stats.verdict(clear, clear.p, clear.equivalence_p, None, True) == "worse"
    assert lib_stats.verdict(clear, clear.p, clear.equivalence_p, 0.01, False) == "better, no evidence of being equivalent within ±0.01"
    overlap = lib_stats.versus(by_seed(1.352, 1.360, 1.368), {5: 1.349, 6: 1.356, 7: 1.359}, margin=0.05)
    assert overlap.p > 0.05 and overlap.equivalence_p < 0.05
    assert lib_stats.verdict(overlap, overlap.p, overlap.equivalence_p, None, False) == "no evidence of a difference"
    assert lib_stats.verdict(overlap, overlap.p, overlap.equivalence_p, 0.05, False) == "no evidence of a difference, equivalent within ±0.05"
    assert lib_stats.verdict(overlap, overlap.p, 0.2, 0.05, False) == "no evidence of a difference, no evidence of being equivalent within ±0.05"


def test_against_a_baseline_the_p_values_are_holm_adjusted_over_the_groups_compared():
    baseline = by_seed(1.350, 1.362, 1.344, 1.357)
    samples = [by_seed(1.352, 1.369, 1.349, 1.366), baseline, {7: 1.30, 8: 1.31, 9: 1.29}, by_seed(1.351, 1.361, 1.346, 1.358), {9: 1.4}]
    rows = lib_stats.against_baseline(samples, 1, margin=0.02, higher_is_better=False)
    assert rows[1].difference is None and rows[1].verdict == "" and rows[1].summary == lib_stats.summary(baseline.values())
    raw = [rows[i].difference.p for i in (0, 2, 3)]
    assert [rows[i].p_adjusted for i in (0, 2, 3)] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    equivalence = [rows[i].difference.equivalence_p for i in (0, 2, 3)]
    assert [rows[i].equivalence_adjusted for i in (0, 2, 3)] == pytest.approx(list(multipletests(equivalence, method="holm")[1]))
    assert rows[4].p_adjusted is None and rows[4].verdict == f"no p-value: {lib_stats.TOO_FEW}"  # one seed: not in the family
    assert rows[2].difference.test == lib_stats.WELCH and rows[2].verdict.startswith("better")
    assert rows[0].difference.test == lib_stats.PAIRED and rows[0].p_adjusted >= rows[0].difference.p

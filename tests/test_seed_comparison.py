"""stages.lib.compare: statistics against independent computations, grouping over seeds, and which seeds a metric has."""

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from conftest import ROOT
from stages.lib import compare

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

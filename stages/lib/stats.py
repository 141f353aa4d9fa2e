"""The statistics of comparing groups of runs over seeds: pure functions of numbers, no DVC, no I/O.

A sample is {seed setting: value}, one value per seed. Against a baseline, two samples that share
two seeds or more are compared by a paired t-test on the per-seed differences of the shared seeds
(each seed's own luck cancels); others by Welch's t-test. With a margin, two one-sided tests (TOST)
ask whether the difference lies within ±margin. Holm's step-down correction adjusts the p-values of
the groups compared with one baseline. Everything rests on SciPy's t distribution.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
ZERO_SPREAD = 1e-12  # a spread below this fraction of the values' size is rounding, not spread

PAIRED, WELCH = "paired t", "Welch t"
TOO_FEW = "spread unknown (needs 2 seeds or more in both groups)"
NO_SPREAD = "zero spread in both groups (each gives the same value on every seed)"
NO_SPREAD_PAIRED = "zero spread of the per-seed differences (the same difference on every seed)"


def summary(values):
    """n, mean, sample std and the 95 % t interval of the mean (std and interval None for n < 2)."""
    values = np.asarray(list(values), dtype=float)
    n = len(values)
    mean = float(np.mean(values)) if n else math.nan
    if n < 2:
        return {"n": n, "mean": mean, "std": None, "low": None, "high": None}
    std = float(np.std(values, ddof=1))
    low, high = stats.t.interval(CONFIDENCE, n - 1, loc=mean, scale=std / math.sqrt(n)) if std > 0 else (mean, mean)
    return {"n": n, "mean": mean, "std": std, "low": float(low), "high": float(high)}


@dataclass(frozen=True)
class Difference:
    """A sample's mean against the baseline's: the test, its estimate, 95 % interval and p-values.

    `p` is the two-sided test of no difference; `equivalence_p` the TOST's (with a margin). Where no
    test can be made both are None and `reason` says why.
    """

    test: str | None
    pairs: int  # the seeds the paired test uses (0 for Welch)
    difference: float
    low: float | None = None
    high: float | None = None
    p: float | None = None
    equivalence_p: float | None = None
    reason: str | None = None


def no_spread(values):
    """Whether the values are all equal, rounding aside."""
    values = np.asarray(values, dtype=float)
    return float(np.ptp(values)) <= ZERO_SPREAD * max(1.0, float(np.max(np.abs(values))))


def t_test(test, pairs, estimate, error, df, margin):
    """The Difference for an estimate with standard error `error` on `df` degrees of freedom."""
    half = stats.t.ppf(1 - ALPHA / 2, df) * error
    p = 2 * stats.t.sf(abs(estimate) / error, df)
    equivalence_p = None
    if margin is not None:  # both one-sided nulls, difference <= -margin and >= +margin, must fall
        equivalence_p = max(stats.t.sf((estimate + margin) / error, df), stats.t.cdf((estimate - margin) / error, df))
    return Difference(test, pairs, estimate, estimate - half, estimate + half, float(p),
                      None if equivalence_p is None else float(equivalence_p))


def versus(sample, baseline, margin=None):
    """The Difference of `sample` against `baseline` (both {seed: value}): paired on 2 shared seeds or more, else Welch."""
    shared = [seed for seed in sample if seed in baseline]
    if len(shared) >= 2:
        differences = np.array([sample[seed] - baseline[seed] for seed in shared])
        estimate = float(np.mean(differences))
        if no_spread(differences):
            return Difference(PAIRED, len(shared), estimate, reason=NO_SPREAD_PAIRED)
        error = float(np.std(differences, ddof=1)) / math.sqrt(len(shared))
        return t_test(PAIRED, len(shared), estimate, error, len(shared) - 1, margin)
    a, b = np.array(list(sample.values()), dtype=float), np.array(list(baseline.values()), dtype=float)
    estimate = float(np.mean(a) - np.mean(b)) if len(a) and len(b) else math.nan
    if len(a) < 2 or len(b) < 2:
        return Difference(None, 0, estimate, reason=TOO_FEW)
    if no_spread(a) and no_spread(b):
        return Difference(WELCH, 0, estimate, reason=NO_SPREAD)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))  # Welch-Satterthwaite
    return t_test(WELCH, 0, estimate, math.sqrt(va + vb), df, margin)


def holm(pvalues):
    """Holm's step-down adjustment of a family of p-values (None, no test, stays None and does not count)."""
    ranked = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    adjusted, running = [None] * len(pvalues), 0.0
    for rank, (p, i) in enumerate(ranked):
        running = max(running, min(1.0, (len(ranked) - rank) * p))
        adjusted[i] = running
    return adjusted


def verdict(difference, p_adjusted, equivalence_adjusted, margin, higher_is_better):
    """In words what the (adjusted) tests show, never more."""
    if difference.p is None:
        return f"no p-value: {difference.reason}"
    said = []
    if p_adjusted < ALPHA:
        said.append("better" if (difference.difference > 0) == higher_is_better else "worse")
    else:
        said.append("no evidence of a difference")
    if margin is not None:
        within = f"equivalent within ±{margin:g}"
        said.append(within if equivalence_adjusted < ALPHA else f"no evidence of being {within}")
    return ", ".join(said)


@dataclass(frozen=True)
class Row:
    """One sample's line of a comparison: its summary and, but for the baseline, the test and verdict."""

    summary: dict
    difference: Difference | None = None
    p_adjusted: float | None = None
    equivalence_adjusted: float | None = None
    verdict: str = ""


def against_baseline(samples, baseline, margin=None, higher_is_better=False):
    """A Row per sample ({seed: value} each), every one but `baseline` (an index) tested against it, Holm-adjusted together."""
    differences = [None if i == baseline else versus(sample, samples[baseline], margin) for i, sample in enumerate(samples)]
    tested = [d for d in differences if d is not None]
    adjusted = iter(holm([d.p for d in tested]))
    equivalence = iter(holm([d.equivalence_p for d in tested]))
    rows = []
    for sample, difference in zip(samples, differences):
        if difference is None:
            rows.append(Row(summary(sample.values())))
            continue
        p, equivalent = next(adjusted), next(equivalence)
        rows.append(Row(summary(sample.values()), difference, p, equivalent, verdict(difference, p, equivalent, margin, higher_is_better)))
    return rows

"""Runs compared over seeds: which change is real and which is noise.

The runs come from DVC's own experiment listing (the repo API behind `dvc exp show`). Runs whose
params are equal except the seeds form a group; a metric's seeds are those of the stages that
produce it (and of the stages upstream of them), read from dvc.yaml, so that two runs that differ
only in another model's seed count once. Statistics are SciPy's: the t distribution for the
intervals, Welch's t-test for each difference, the noncentral t for the seeds a test would need.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ruamel.yaml import YAML
from scipy import stats

from .cli import UserError

SEED_KEYS = ("charrnn.seed", "wavernn.seed", "generate.seed")
DEFAULT_METRICS = ("metrics/charrnn.json:val_loss", "metrics/wave.json:mse_mean")
MACHINE_KEYS = ("cpu", "threads", "device")
CONFIDENCE = 0.95
POWER = 0.8
MAX_SEEDS = 1000  # beyond this many seeds per group, "more seeds" stops being advice


@dataclass
class Run:
    """One experiment, commit or workspace, with its params (dotted keys) and metrics (path: data)."""

    name: str
    rev: str
    params: dict
    metrics: dict

    def value(self, metric):
        """The metric's value ("path:dotted.key"), or None when this run lacks it."""
        path, key = split_metric(metric)
        node = self.metrics.get(path)
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None

    def machine(self, metric):
        """(cpu, threads, device) recorded beside the metric, else by any of the run's metrics files; None if none."""
        path, _ = split_metric(metric)
        for data in (self.metrics.get(path) or {}, *self.metrics.values()):
            if isinstance(data, dict) and all(key in data for key in MACHINE_KEYS):
                return tuple(data[key] for key in MACHINE_KEYS)
        return None


@dataclass
class Collected:
    """The runs DVC lists, and those left out: failed, and queued or running (no metrics yet)."""

    runs: list
    head: str = ""  # the commit the workspace is on
    failed: list = field(default_factory=list)
    pending: list = field(default_factory=list)


def split_metric(metric):
    """("metrics/charrnn.json", "val_loss") from "metrics/charrnn.json:val_loss"."""
    path, sep, key = metric.rpartition(":")
    if not sep or not path or not key:
        raise UserError(f"--metric: '{metric}' must be FILE:KEY, for example {DEFAULT_METRICS[0]}")
    return path, key


def flatten(data, prefix=""):
    """{"a.b": 1} from {"a": {"b": 1}}."""
    flat = {}
    for key, value in (data or {}).items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def to_run(state, name):
    """A Run from one ExpState's dumped data (params.yaml flattened; metrics by file)."""
    data = state["data"]
    params = flatten(data["params"].get("params.yaml", {}).get("data"))
    metrics = {path: result["data"] for path, result in data["metrics"].items() if result.get("data")}
    return Run(name=name, rev=state["rev"], params=params, metrics=metrics)


def collect(root=".", revs=None, all_commits=False, num=1):
    """The runs of the repository at `root` as `dvc exp show` lists them (workspace, baselines, experiments)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(root) as repo:
            states = [state.dumpd() for state in repo.experiments.show(revs=revs, all_commits=all_commits, num=num)]
            head = repo.scm.get_rev()
    except DvcException as error:
        raise UserError(f"dvc: {error}") from None
    found = Collected(runs=[], head=head)
    for baseline in states:
        name = "workspace" if baseline["rev"] == "workspace" else baseline["name"] or baseline["rev"][:7]
        if baseline["data"] and not baseline["error"] and to_run(baseline, name).metrics:  # a commit before any repro has none
            found.runs.append(to_run(baseline, name))
        for experiment in baseline["experiments"] or []:
            tip = experiment["revs"][0]
            label = experiment["name"] or tip["name"] or tip["rev"][:7]
            state = (experiment["executor"] or {}).get("state", "success")
            if state == "failed" or tip["error"]:
                found.failed.append(label)
            elif state in ("queued", "running") or not tip["data"]:
                found.pending.append(label)
            else:
                found.runs.append(to_run(tip, label))
    return found


def stage_graph(dvc_yaml="dvc.yaml"):
    """{stage: (the params it lists, the paths it reads, the paths it writes)} from dvc.yaml."""
    if not Path(dvc_yaml).is_file():
        raise UserError(f"{dvc_yaml}: file not found; run this in the project's root")
    stages = YAML(typ="safe", pure=True).load(Path(dvc_yaml).read_text(encoding="utf-8"))["stages"]

    def paths(entries):
        return {next(iter(entry)) if isinstance(entry, dict) else entry for entry in entries or []}

    return {
        name: (
            [key for entry in stage.get("params", []) for key in (entry if isinstance(entry, dict) else [entry])],
            paths(stage.get("deps")),
            paths(stage.get("outs")) | paths(stage.get("metrics")) | paths(stage.get("plots")),
        )
        for name, stage in stages.items()
    }


def metric_seeds(metric, graph):
    """The seed keys the metric's file depends on: listed by its stage or any stage upstream of it."""
    path, _ = split_metric(metric)
    todo = [name for name, (_, _, outs) in graph.items() if path in outs]
    seen, listed = set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        params, deps, _ = graph[name]
        listed.update(params)
        todo += [other for other, (_, _, outs) in graph.items() if any(dep == out or dep.startswith(out.rstrip("/") + "/") for dep in deps for out in outs)]
    if not seen:  # a file no stage writes: every seed may matter
        return SEED_KEYS
    return tuple(seed for seed in SEED_KEYS if seed in listed or seed.split(".")[0] in listed)


def group_key(run):
    """What a group shares: every param except the seeds."""
    return tuple(sorted((key, repr(value)) for key, value in run.params.items() if key not in SEED_KEYS))


@dataclass
class Group:
    """Runs with equal params apart from the seeds."""

    key: tuple
    runs: list

    def label(self, others):
        """The params in which this group differs from the `others`, or 'the baseline params'."""
        mine = dict(self.key)
        keys = sorted({key for other in others for key, value in other.key if mine.get(key) != value} | {key for key in mine if any(key not in dict(o.key) for o in others)})
        return ", ".join(f"{key}={mine.get(key, '(unset)')}" for key in keys) or "(one group)"

    def sample(self, metric, seeds):
        """The metric's values, one per distinct setting of `seeds` (a rerun of the same seeds is the same run)."""
        values = {}
        for run in self.runs:
            value = run.value(metric)
            if value is not None:
                values.setdefault(tuple(repr(run.params.get(seed)) for seed in seeds), value)
        return np.array(list(values.values()))


def group_runs(runs):
    """The groups of `runs`, in the order their first run appears."""
    groups = defaultdict(list)
    for run in runs:
        groups[group_key(run)].append(run)
    return [Group(key, members) for key, members in groups.items()]


def summary(sample):
    """n, mean, sample std and the 95 % t interval of the mean (std and interval None for n < 2)."""
    n = len(sample)
    mean = float(np.mean(sample)) if n else math.nan
    if n < 2:
        return {"n": n, "mean": mean, "std": None, "low": None, "high": None}
    std = float(np.std(sample, ddof=1))
    low, high = stats.t.interval(CONFIDENCE, n - 1, loc=mean, scale=std / math.sqrt(n)) if std > 0 else (mean, mean)
    return {"n": n, "mean": mean, "std": std, "low": float(low), "high": float(high)}


def seeds_to_tell(difference, std, alpha=1 - CONFIDENCE, power=POWER):
    """Seeds per group at which Welch's test would detect `difference` with `power`, given a per-seed `std`.

    Two equal groups of n: the statistic is noncentral t with 2n - 2 degrees of freedom and
    noncentrality difference / (std * sqrt(2 / n)). None when no number up to MAX_SEEDS does.
    """
    if std == 0 or difference == 0:
        return None
    for n in range(2, MAX_SEEDS + 1):
        df = 2 * n - 2
        critical = stats.t.ppf(1 - alpha / 2, df)
        shift = abs(difference) / (std * math.sqrt(2 / n))
        if stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift) >= power:
            return n
    return None


def versus(sample, baseline, higher_is_better=False):
    """The difference of means against the baseline's, its 95 % interval, Welch's p-value and a verdict."""
    difference = float(np.mean(sample) - np.mean(baseline))
    result = {"difference": difference, "low": None, "high": None, "p": None, "seeds_needed": None}
    if len(sample) < 2 or len(baseline) < 2:
        return {**result, "verdict": "spread unknown (needs 2 seeds or more in both groups)"}
    if np.std(sample) == 0 and np.std(baseline) == 0:
        verdict = "identical" if difference == 0 else ("better" if (difference > 0) == higher_is_better else "worse")
        return {**result, "low": difference, "high": difference, "p": 0.0 if difference else 1.0, "verdict": verdict}
    test = stats.ttest_ind(sample, baseline, equal_var=False)
    interval = test.confidence_interval(CONFIDENCE)
    result.update(low=float(interval.low), high=float(interval.high), p=float(test.pvalue))
    if test.pvalue < 1 - CONFIDENCE:
        result["verdict"] = "better" if (difference > 0) == higher_is_better else "worse"
    else:
        pooled = math.sqrt((np.var(sample, ddof=1) + np.var(baseline, ddof=1)) / 2)
        result["seeds_needed"] = seeds_to_tell(difference, pooled)
        result["verdict"] = "within noise"
    return result

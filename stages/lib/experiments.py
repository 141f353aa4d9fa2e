"""The runs to compare, read through DVC's repo API, and their groups: the same recipe and the same code.

`collect` lists the runs as `dvc exp show` does (the workspace, commits and their experiments) and
loads each run's stages from its own revision: what each stage reads and writes (dvc.yaml) and the
hash of each dependency it ran with (dvc.lock). A metric's *lineage* is the stage that writes its
file and every stage upstream of it. For one metric, runs form a group when their params apart from
the seeds are equal and so is their *code*: the hashes of the lineage's dependencies that no stage
writes (scripts, modules, requirements, source files). A seed is a replicate only of the same
recipe on the same code: the same seeds, params and code twice are one run.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from .cli import UserError

SEED_KEYS = ("charrnn.seed", "wavernn.seed", "generate.seed")
DEFAULT_METRICS = ("metrics/charrnn.json:val_loss", "metrics/wave.json:mse_mean")
MACHINE_KEYS = ("cpu", "threads", "device")


def machine_label(cpu, threads, device):
    """A machine as a metrics file records it (MACHINE_KEYS), in words: "AMD EPYC (...), 1 thread, cpu"."""
    return f"{cpu}, {threads} thread{'' if threads == 1 else 's'}, {device}"


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


def inside(path, folder):
    """Whether `path` is `folder` or lies in it."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


@dataclass(frozen=True)
class Stage:
    """One stage as a run ran it: {dependency path: hash from dvc.lock}, the paths it writes, the params it lists."""

    deps: dict
    outs: frozenset
    params: frozenset = frozenset()

    def reads(self, other):
        """Whether this stage reads something the `other` writes."""
        return any(inside(dep, out) or inside(out, dep) for dep in self.deps for out in other.outs)


@dataclass
class Run:
    """One experiment, commit or workspace: params (dotted keys), metrics (path: data) and stages (name: Stage)."""

    name: str
    rev: str
    params: dict
    metrics: dict
    stages: dict = field(default_factory=dict)

    def value(self, metric):
        """The metric's value ("path:dotted.key"), or None when this run lacks it."""
        path, key = split_metric(metric)
        node = self.metrics.get(path)
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None

    def upstream(self, names):
        """The stages `names` and every stage upstream of them."""
        found, todo = set(), list(names)
        while todo:
            name = todo.pop()
            if name not in found:
                found.add(name)
                todo += [other for other, stage in self.stages.items() if self.stages[name].reads(stage)]
        return found

    def lineage(self, metric):
        """The stage that writes the metric's file and those upstream of it (none when no stage writes it)."""
        path, _ = split_metric(metric)
        return self.upstream(name for name, stage in self.stages.items() if path in stage.outs)

    def seeds(self, metric):
        """The seed keys the metric depends on: listed by its lineage; every one when no stage writes it."""
        lineage = self.lineage(metric)
        if not lineage:
            return SEED_KEYS
        listed = {key for name in lineage for key in self.stages[name].params}
        return tuple(seed for seed in SEED_KEYS if seed in listed or seed.split(".")[0] in listed)

    def seed_setting(self, metric):
        """This run's values of the metric's seed keys."""
        return tuple((seed, self.params.get(seed)) for seed in self.seeds(metric))

    def code(self, metric):
        """((path, hash), ...) of the lineage's dependencies that no stage writes: the code the metric comes from."""
        written = [out for stage in self.stages.values() for out in stage.outs]
        return tuple(sorted({(dep, digest) for name in self.lineage(metric) for dep, digest in self.stages[name].deps.items()
                             if not any(inside(dep, out) or inside(out, dep) for out in written)}))

    def machines(self, metric):
        """(cpu, threads, device) of each stage that trained a model the metric comes from, as its metrics file recorded it.

        A stage of the lineage whose metrics file carries MACHINE_KEYS ran on a machine; the trainers are
        those with no such stage upstream (an evaluation of the checkpoint records its own machine too).
        """
        def recorded(name):
            for out in self.stages[name].outs:
                data = self.metrics.get(out)
                if isinstance(data, dict) and all(key in data for key in MACHINE_KEYS):
                    return tuple(data[key] for key in MACHINE_KEYS)
            return None

        ran = {name for name in self.lineage(metric) if recorded(name)}
        return tuple(sorted({recorded(name) for name in ran if not (self.upstream([name]) - {name}) & ran}, key=str))


@dataclass
class Collected:
    """The runs DVC lists, and those left out: failed, and queued or running (no metrics yet)."""

    runs: list
    head: str = ""  # the commit the workspace is on
    failed: list = field(default_factory=list)
    pending: list = field(default_factory=list)


def to_run(state, name):
    """A Run from one ExpState's dumped data (params.yaml flattened; metrics by file), its stages still to load."""
    data = state["data"]
    params = flatten(data["params"].get("params.yaml", {}).get("data"))
    metrics = {path: result["data"] for path, result in data["metrics"].items() if result.get("data")}
    return Run(name=name, rev=state["rev"], params=params, metrics=metrics)


def load_stages(repo, rev):
    """{name: Stage} of the repository at `rev` ("workspace" or a commit): dvc.yaml's stages with dvc.lock's hashes."""
    from dvc.dependency.param import ParamsDependency

    with repo.switch(rev):
        return {
            stage.name: Stage(
                deps={dep.def_path: dep.hash_info.value for dep in stage.deps if not isinstance(dep, ParamsDependency)},
                outs=frozenset(out.def_path for out in stage.outs),
                params=frozenset(key for dep in stage.deps if isinstance(dep, ParamsDependency) for key in dep.params),
            )
            for stage in repo.index.stages
        }


def collect(root=".", revs=None, all_commits=False, num=1):
    """The runs of the repository at `root` as `dvc exp show` lists them (workspace, baselines, experiments), with their stages."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(root) as repo:
            states = [state.dumpd() for state in repo.experiments.show(revs=revs, all_commits=all_commits, num=num)]
            found = Collected(runs=[], head=repo.scm.get_rev())
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
            for run in found.runs:
                run.stages = load_stages(repo, run.rev)
    except DvcException as error:
        raise UserError(f"dvc: {error}") from None
    return found


@dataclass
class Group:
    """For one metric, the runs of one recipe: equal params apart from the seeds, and equal code."""

    params: tuple  # ((key, repr(value)), ...) apart from the seeds
    code: tuple  # ((path, hash), ...)
    runs: list

    def sample(self, metric):
        """{seed setting: value}, one value per seed setting: a rerun of the same seeds, params and code is the same run."""
        values = {}
        for run in self.runs:
            values.setdefault(run.seed_setting(metric), run.value(metric))
        return values

    def reruns(self, metric):
        """How many runs repeat a seed setting of an earlier run of this group."""
        return len(self.runs) - len(self.sample(metric))


def group_runs(runs, metric):
    """The groups, for `metric`, of the runs that have it, in the order their first run appears."""
    groups = defaultdict(list)
    for run in runs:
        if run.value(metric) is not None:
            params = tuple(sorted((key, repr(value)) for key, value in run.params.items() if key not in SEED_KEYS))
            groups[params, run.code(metric)].append(run)
    return [Group(params, code, members) for (params, code), members in groups.items()]


def labels(groups):
    """What sets each group apart: the params whose values differ, and the code paths that differ with the version's name.

    A version of the code is named after the first run (the workspace last) that ran it, so groups on the same code say the same.
    """
    versions = {}
    for group in groups:
        for run in sorted(group.runs, key=lambda run: run.name == "workspace"):
            versions.setdefault(group.code, run.name)
    found = []
    for group in groups:
        others = [other for other in groups if other is not group]
        params, code = dict(group.params), dict(group.code)
        keys = sorted({key for other in others for key, value in other.params if params.get(key) != value}
                      | {key for key in params if any(key not in dict(other.params) for other in others)})
        paths = sorted({path for other in others for path, digest in other.code if code.get(path) != digest}
                       | {path for path in code if any(path not in dict(other.code) for other in others)})
        said = [", ".join(f"{key}={params.get(key, '(unset)')}" for key in keys)] if keys else []
        if paths:
            said.append(f"code: {', '.join(paths)} as in {versions[group.code]}")
        found.append("; ".join(said) or "(one group)")
    return found

"""Compare experiments over seeds: n, mean, std and 95 % interval per group, and a verdict against a baseline.

    python -m stages.compare [--metric FILE:KEY ...] [--baseline NAME] [--rev REV ...] [-A] [-n N]
                             [--higher-is-better FILE:KEY ...] [--md] [--png FILE]

Runs whose params are equal except `charrnn.seed`, `wavernn.seed` and `generate.seed` form a
group. Each group is compared with the baseline group (by default the one holding the current
commit's params) by Welch's t-test: "better", "worse" or "within noise", and for noise how many
seeds per group would tell a difference of that size. Lower is better unless
--higher-is-better names the metric. A command, not a DVC stage: it writes nothing but --png.
"""

import argparse
import logging
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from stages.lib import cli, io  # noqa: E402
from stages.lib import compare as lib  # noqa: E402

log = logging.getLogger(__name__)


def parse_options(argv):
    parser = argparse.ArgumentParser(prog="python -m stages.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--metric", action="append", metavar="FILE:KEY", help=f"a metric to compare (default: {', '.join(lib.DEFAULT_METRICS)})")
    parser.add_argument("--baseline", metavar="NAME", help="a run (experiment name, branch, 'workspace' or commit) whose group is the baseline")
    parser.add_argument("--rev", action="append", metavar="REV", help="the experiments of this commit (as `dvc exp show --rev`)")
    parser.add_argument("-A", "--all-commits", action="store_true", help="the experiments of every commit")
    parser.add_argument("-n", "--num", type=int, default=1, help="the last N commits from each revision (as `dvc exp show -n`)")
    parser.add_argument("--higher-is-better", action="append", default=[], metavar="FILE:KEY", help="a metric where higher is better")
    parser.add_argument("--md", action="store_true", help="print Markdown tables")
    parser.add_argument("--png", metavar="FILE", help="also write a figure: each group's mean and interval, per metric")
    return parser.parse_args(argv)


def known_metrics(runs):
    """Every FILE:KEY with a number in some run."""
    return sorted({f"{path}:{key}" for run in runs for path, data in run.metrics.items()
                   for key, value in lib.flatten(data).items() if isinstance(value, (int, float)) and not isinstance(value, bool)})


def find_baseline(groups, runs, name, head):
    """The group holding the run called `name` (a name, or a commit of 7 or more hex digits), else the current commit's."""
    def called(run):
        if name is None:
            return run.rev == head
        return name in (run.name, run.rev) or (len(name) >= 7 and run.rev.startswith(name))

    chosen = next((run for run in runs if called(run)), None)
    if chosen is None and name is not None:
        raise cli.UserError(f"--baseline: no run called '{name}'; runs: {', '.join(run.name for run in runs)}")
    return next(group for group in groups if chosen in group.runs) if chosen else groups[0]


def number(value, digits=5):
    return "-" if value is None else f"{value:.{digits}g}"


def interval(low, high):
    return "-" if low is None else f"[{low:.5g}, {high:.5g}]"


def metric_table(metric, groups, baseline, graph, higher_is_better):
    """(header, rows, verdict lines, notes) for one metric."""
    seeds = lib.metric_seeds(metric, graph)
    base_sample = baseline.sample(metric, seeds)
    if not len(base_sample):
        raise cli.UserError(f"{metric}: the baseline group ({baseline.label(groups)}) has no value of it; choose another --baseline")
    header = ["group", "n", "mean", "std", "95 % interval", "vs baseline", "95 % interval of the difference", "p (Welch)", "verdict"]
    rows, verdicts, notes = [], [], []
    machines = set()
    for group in groups:
        sample = group.sample(metric, seeds)
        label = group.label([g for g in groups if g is not group]) + (" (baseline)" if group is baseline else "")
        if not len(sample):
            notes.append(f"{label}: no value of {metric}; left out")
            continue
        machines |= {run.machine(metric) for run in group.runs if run.machine(metric)}
        stat = lib.summary(sample)
        spread = number(stat["std"]) if stat["n"] > 1 else "unknown (1 seed)"
        if group is baseline:
            rows.append([label, stat["n"], number(stat["mean"]), spread, interval(stat["low"], stat["high"]), "", "", "", ""])
            continue
        diff = lib.versus(sample, base_sample, higher_is_better)
        rows.append([label, stat["n"], number(stat["mean"]), spread, interval(stat["low"], stat["high"]),
                     f"{diff['difference']:+.4g}", interval(diff["low"], diff["high"]), number(diff["p"], 3), diff["verdict"]])
        verdicts.append(verdict_line(label, metric, diff, stat["n"], len(base_sample)))
    if len(machines) > 1:
        notes.append(f"{metric}: these runs come from {len(machines)} machines (" + "; ".join(f"{cpu}, {threads} threads, {device}" for cpu, threads, device in sorted(machines, key=str))
                     + "): a difference may be the machine's as well as the recipe's")
    return header, rows, verdicts, notes


def verdict_line(label, metric, diff, n, n_baseline):
    """The comparison in words."""
    said = f"{label}: {metric} {diff['difference']:+.4g} against the baseline"
    if diff["p"] is None:
        return f"{said}: {diff['verdict']}"
    said += f" (95 % interval {interval(diff['low'], diff['high'])}, p = {diff['p']:.3g}): {diff['verdict']}"
    if diff["verdict"] == "within noise":
        needed = diff["seeds_needed"]
        if needed is None:
            said += "; no number of seeds up to 1000 would tell a difference this small"
        else:
            said += f"; about {needed} seeds per group would tell a difference this size (80 % power), {max(0, needed - min(n, n_baseline))} more"
    return said


def render(header, rows, markdown):
    """A plain or Markdown table."""
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join([lines[0], "|" + "---|" * len(header), *lines[1:]])
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells)


def figure(metrics, groups, baseline, graph):
    """For each metric, each group's seeds (dots), mean and 95 % interval."""
    fig, panels = plt.subplots(1, len(metrics), figsize=(6.5 * len(metrics), 4.5), squeeze=False)
    for axes, metric in zip(panels[0], metrics):
        seeds = lib.metric_seeds(metric, graph)
        for position, group in enumerate(groups):
            sample = group.sample(metric, seeds)
            if not len(sample):
                continue
            stat = lib.summary(sample)
            color = "tab:red" if group is baseline else "tab:blue"
            axes.plot([position] * len(sample), sample, "o", color=color, alpha=0.4, markersize=5)
            if stat["low"] is not None:
                axes.errorbar([position], [stat["mean"]], yerr=[[stat["mean"] - stat["low"]], [stat["high"] - stat["mean"]]],
                              fmt="s", color=color, capsize=6, markersize=7)
            else:
                axes.plot([position], [stat["mean"]], "s", color=color, markersize=7)
        axes.set_xticks(range(len(groups)), [g.label([o for o in groups if o is not g]) for g in groups], rotation=20, ha="right", fontsize="small")
        axes.set_xlim(-0.5, len(groups) - 0.5)
        axes.set(title=f"{metric}\nmean and 95 % interval over seeds, red: baseline", ylabel=metric.split(":")[-1])
        axes.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def main():
    options = parse_options(sys.argv[1:])
    metrics = options.metric or list(lib.DEFAULT_METRICS)
    for metric in metrics + options.higher_is_better:
        lib.split_metric(metric)
    found = lib.collect(revs=options.rev, all_commits=options.all_commits, num=options.num)
    if not found.runs:
        raise cli.UserError("no runs with metrics: run `dvc repro` or `dvc exp run` first")
    existing = known_metrics(found.runs)
    for metric in metrics:
        if metric not in existing:
            raise cli.UserError(f"--metric: no run has '{metric}'; metrics that exist: {', '.join(existing)}")
    graph = lib.stage_graph()
    groups = lib.group_runs(found.runs)
    baseline = find_baseline(groups, found.runs, options.baseline, found.head)
    left_out = f"{len(found.failed)} failed" + (f" ({', '.join(found.failed)})" if found.failed else "")
    print(f"{len(found.runs)} runs in {len(groups)} groups (equal params apart from {', '.join(lib.SEED_KEYS)}); "
          f"left out: {left_out}, {len(found.pending)} queued or running")
    for metric in metrics:
        higher = metric in options.higher_is_better
        header, rows, verdicts, notes = metric_table(metric, groups, baseline, graph, higher)
        print()
        print(f"{'## ' if options.md else ''}{metric} ({'higher' if higher else 'lower'} is better)")
        print()
        print(render(header, rows, options.md))
        for line in verdicts + notes:
            print(f"{'- ' if options.md else ''}{line}")
    if options.png:
        fig = figure(metrics, groups, baseline, graph)
        with io.atomic_path(options.png) as tmp:
            fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        log.info("wrote %s", options.png)


if __name__ == "__main__":
    cli.run(main)

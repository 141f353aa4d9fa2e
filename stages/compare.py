"""Compare experiments over seeds: per group of the same params and code, n, mean, std and 95 % interval, and a test against a baseline.

    python -m stages.compare [--metric FILE:KEY ...] [--baseline NAME] [--margin [FILE:KEY=]X ...]
                             [--rev REV ...] [-A] [-n N] [--higher-is-better FILE:KEY ...] [--md] [--png FILE]

For each metric, runs form a group when their params are equal apart from the seeds (`charrnn.seed`,
`wavernn.seed`, `generate.seed`) and so is the code of the stages the metric comes from (the hashes
in each run's dvc.lock): a seed is a replicate only of the same recipe on the same code, and the
same seeds, params and code twice count once. Each group is compared with the baseline group (by
default the current commit's) by a paired t-test on the per-seed differences when they share seeds,
else by Welch's t-test, with Holm's correction over the groups compared. The verdict says "better",
"worse" or "no evidence of a difference"; with --margin, two one-sided tests also say whether the
difference is "equivalent within ±X". Two groups without spread get no p-value. Lower is better
unless --higher-is-better names the metric. A note says when the models a metric comes from were
trained on different machines. A command, not a DVC stage: it writes nothing but --png.
"""

import argparse
import logging
import math
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from stages.lib import cli, experiments, io, stats  # noqa: E402

log = logging.getLogger(__name__)


def parse_options(argv):
    parser = argparse.ArgumentParser(prog="python -m stages.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--metric", action="append", metavar="FILE:KEY", help=f"a metric to compare (default: {', '.join(experiments.DEFAULT_METRICS)})")
    parser.add_argument("--baseline", metavar="NAME", help="a run (experiment name, branch, 'workspace' or commit) whose group is the baseline")
    parser.add_argument("--margin", action="append", default=[], metavar="[FILE:KEY=]X",
                        help="test equivalence within ±X, in the metric's units (for every metric, or the one named)")
    parser.add_argument("--rev", action="append", metavar="REV", help="the experiments of this commit (as `dvc exp show --rev`)")
    parser.add_argument("-A", "--all-commits", action="store_true", help="the experiments of every commit")
    parser.add_argument("-n", "--num", type=int, default=1, help="the last N commits from each revision (as `dvc exp show -n`)")
    parser.add_argument("--higher-is-better", action="append", default=[], metavar="FILE:KEY", help="a metric where higher is better")
    parser.add_argument("--md", action="store_true", help="print Markdown tables")
    parser.add_argument("--png", metavar="FILE", help="also write a figure: each group's mean and interval, per metric")
    return parser.parse_args(argv)


def margins(options, metrics):
    """{metric: margin or None} from the --margin options: `X` for every metric, `FILE:KEY=X` for one."""
    found = dict.fromkeys(metrics)
    for option in options:
        metric, _, text = option.rpartition("=")
        try:
            margin = float(text)
        except ValueError:
            margin = math.nan
        if not margin > 0 or math.isinf(margin):
            raise cli.UserError(f"--margin: '{option}' must be a positive number X or FILE:KEY=X")
        if metric and metric not in found:
            raise cli.UserError(f"--margin: '{metric}' is not a metric compared; those compared: {', '.join(metrics)}")
        found.update({metric: margin} if metric else {name: margin for name in found if found[name] is None})
    return found


def known_metrics(runs):
    """Every FILE:KEY with a number in some run."""
    return sorted({f"{path}:{key}" for run in runs for path, data in run.metrics.items()
                   for key, value in experiments.flatten(data).items() if isinstance(value, (int, float)) and not isinstance(value, bool)})


def chosen_run(runs, name, head):
    """The run called `name` (a name, or a commit of 7 or more hex digits), else the current commit's; None if neither."""
    def called(run):
        if name is None:
            return run.rev == head
        return name in (run.name, run.rev) or (len(name) >= 7 and run.rev.startswith(name))

    chosen = next((run for run in runs if called(run)), None)
    if chosen is None and name is not None:
        raise cli.UserError(f"--baseline: no run called '{name}'; runs: {', '.join(run.name for run in runs)}")
    return chosen


def baseline_index(metric, groups, chosen, named):
    """The index of the group holding the `chosen` run; else, unless it was `named` by --baseline, the first group's."""
    for index, group in enumerate(groups):
        if chosen in group.runs:
            return index
    if named:
        raise cli.UserError(f"{metric}: the baseline run ({chosen.name}) has no value of it; choose another --baseline")
    return 0


def number(value, digits=5):
    return "-" if value is None else f"{value:.{digits}g}"


def interval(low, high):
    return "-" if low is None else f"[{low:.5g}, {high:.5g}]"


def count(n, noun):
    return f"{n} {noun}" + ("" if n == 1 else "s")


def test_name(difference):
    """The test in a table cell: "paired t, 2 seeds", "Welch t" or "-"."""
    if difference.test is None:
        return "-"
    return f"{difference.test}, {count(difference.pairs, 'seed')}" if difference.pairs else difference.test


def metric_report(metric, groups, labels, base, margin, higher_is_better):
    """(header, table rows, verdict lines, notes) for one metric."""
    rows = stats.against_baseline([group.sample(metric) for group in groups], base, margin, higher_is_better)
    header = ["group", "n", "mean", "std", "95 % interval", "vs baseline", "95 % interval of the difference", "test", "p", "p (Holm)", "verdict"]
    if margin is not None:
        header[-1:-1] = [f"p (TOST ±{margin:g})", "p (TOST, Holm)"]
    table, verdicts = [], []
    tested = sum(row.difference is not None and row.difference.p is not None for row in rows)  # Holm's family
    for index, (label, row) in enumerate(zip(labels, rows)):
        stat, difference = row.summary, row.difference
        spread = number(stat["std"]) if stat["n"] > 1 else "unknown (1 seed)"
        cells = [label + (" (baseline)" if index == base else ""), stat["n"], number(stat["mean"]), spread, interval(stat["low"], stat["high"])]
        if difference is None:
            table.append(cells + [""] * (len(header) - len(cells)))
            continue
        cells += [f"{difference.difference:+.4g}", interval(difference.low, difference.high), test_name(difference),
                  number(difference.p, 3), number(row.p_adjusted, 3)]
        if margin is not None:
            cells += [number(difference.equivalence_p, 3), number(row.equivalence_adjusted, 3)]
        table.append(cells + [row.verdict])
        verdicts.append(verdict_line(label, metric, row, margin, tested))
    notes = []
    machines = {machine for group in groups for run in group.runs for machine in run.machines(metric)}
    if len(machines) > 1:
        notes.append(f"{metric}: its models were trained on {len(machines)} machines ("
                     + "; ".join(experiments.machine_label(*machine) for machine in sorted(machines, key=str))
                     + "): a difference may be the machine's as well as the recipe's")
    return header, table, verdicts, notes


def verdict_line(label, metric, row, margin, tested):
    """The comparison in words, with the test that was made (and Holm's adjustment where `tested` > 1 groups had a p-value)."""
    difference = row.difference
    said = f"{label}: {metric} {difference.difference:+.4g} against the baseline"
    if difference.p is None:
        return f"{said}: {row.verdict}"
    test = (f"paired t-test on the {difference.pairs} seeds both groups ran" if difference.test == stats.PAIRED else "Welch's t-test")
    holm = f", Holm-adjusted over {tested} groups {row.p_adjusted:.3g}" if tested > 1 else ""
    said += f" ({test}: 95 % interval {interval(difference.low, difference.high)}, p = {difference.p:.3g}{holm}"
    if margin is not None:
        holm = f", Holm-adjusted {row.equivalence_adjusted:.3g}" if tested > 1 else ""
        said += f"; equivalence within ±{margin:g}: p = {difference.equivalence_p:.3g}{holm}"
    return f"{said}): {row.verdict}"


def render(header, rows, markdown):
    """A plain or Markdown table."""
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join([lines[0], "|" + "---|" * len(header), *lines[1:]])
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells)


def figure(panels):
    """For each (metric, groups, labels, baseline index), one panel, one row per group: its seeds
    (dots), its mean and 95 % interval. Rows, not columns, so that long labels stay whole."""
    wrapped = [[textwrap.fill(label, 48) for label in labels] for _, _, labels, _ in panels]
    heights = [1.3 + sum(0.22 * (label.count("\n") + 1) + 0.2 for label in labels) for labels in wrapped]
    fig, axes_column = plt.subplots(len(panels), 1, figsize=(9, sum(heights) + 0.3), squeeze=False,
                                    gridspec_kw={"height_ratios": heights})
    for axes, (metric, groups, _, base), labels in zip(axes_column[:, 0], panels, wrapped):
        for position, group in enumerate(groups):
            sample = list(group.sample(metric).values())
            stat = stats.summary(sample)
            color = "tab:red" if position == base else "tab:blue"
            axes.plot(sample, [position] * len(sample), "o", color=color, alpha=0.4, markersize=5)
            if stat["low"] is not None:
                axes.errorbar([stat["mean"]], [position], xerr=[[stat["mean"] - stat["low"]], [stat["high"] - stat["mean"]]],
                              fmt="s", color=color, capsize=6, markersize=7)
            else:
                axes.plot([stat["mean"]], [position], "s", color=color, markersize=7)
        axes.set_yticks(range(len(groups)), labels, fontsize="small")
        axes.set_ylim(len(groups) - 0.5, -0.5)  # the first group on top
        axes.set(title=f"{metric}\nmean and 95 % interval over seeds (dots: seeds; red: baseline)", xlabel=metric.split(":")[-1])
        axes.title.set_fontsize("medium")
        axes.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def main():
    options = parse_options(sys.argv[1:])
    metrics = options.metric or list(experiments.DEFAULT_METRICS)
    for metric in metrics + options.higher_is_better:
        experiments.split_metric(metric)
    margin_of = margins(options.margin, metrics)
    found = experiments.collect(revs=options.rev, all_commits=options.all_commits, num=options.num)
    if not found.runs:
        raise cli.UserError("no runs with metrics: run `dvc repro` or `dvc exp run` first")
    existing = known_metrics(found.runs)
    for metric in metrics:
        if metric not in existing:
            raise cli.UserError(f"--metric: no run has '{metric}'; metrics that exist: {', '.join(existing)}")
    chosen = chosen_run(found.runs, options.baseline, found.head)
    left_out = f"{len(found.failed)} failed" + (f" ({', '.join(found.failed)})" if found.failed else "")
    print(f"{len(found.runs)} runs ({', '.join(run.name for run in found.runs)}); left out: {left_out}, {len(found.pending)} queued or running")
    panels = []
    for metric in metrics:
        higher = metric in options.higher_is_better
        groups = experiments.group_runs(found.runs, metric)
        labels = experiments.labels(groups)
        base = baseline_index(metric, groups, chosen, options.baseline is not None)
        reference = groups[base].runs[0]
        header, rows, verdicts, notes = metric_report(metric, groups, labels, base, margin_of[metric], higher)
        reruns = sum(group.reruns(metric) for group in groups)
        print()
        print(f"{'## ' if options.md else ''}{metric} ({'higher' if higher else 'lower'} is better)")
        print()
        print(f"{count(len(groups), 'group')}: equal params apart from {', '.join(reference.seeds(metric)) or 'no seed'}, and equal code of "
              f"{', '.join(sorted(reference.lineage(metric))) or 'no stage'}; {count(reruns, 'rerun')} of a seed counted once")
        print()
        print(render(header, rows, options.md))
        for line in verdicts + notes:
            print(f"{'- ' if options.md else ''}{line}")
        panels.append((metric, groups, labels, base))
    if options.png:
        fig = figure(panels)
        with io.atomic_path(options.png) as tmp:
            fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        log.info("wrote %s", options.png)


if __name__ == "__main__":
    cli.run(main)

"""The README's Results table, printed from the committed metrics and params.yaml; and the blocks of the docs that re-record.

    python -m stages.report [--md]                  # the Results tables
    python -m stages.report --times [--md]          # what the committed run's training and evaluation took
    python -m stages.report --update FILE [FILE ...]   # rewrite every generated block of the files
    python -m stages.report --check FILE [FILE ...]    # exit 1, naming the line, where a block is stale

Results: one row per model on the test split (text) or the protocol's 1000 waves (waves), with
val beside the text rows. Times: the seconds in `plots/*_timing.csv`, with the machine that the
stage's metrics file records.

A generated block of a Markdown file sits between two markers, and its text is exactly what its
source gives:

    <!-- results: python -m stages.report --md -->   ...   <!-- /results -->
    <!-- times: python -m stages.report --times --md -->   ...   <!-- /times -->
    <!-- transcript: docs/transcripts/NAME.txt -->   ...   <!-- /transcript -->

(a transcript block holds the file in a ``` fence; docs/record.sh re-records the files).
tests/test_report.py fails when a block of README.md, BENCHMARKS.md or docs/*.md differs from
its source. A command, not a DVC stage: it writes nothing but the files given to --update.
"""

import argparse
import csv
import difflib
import json
import re
from pathlib import Path

from stages.lib import cli, experiments, io, params

METRICS = {name: f"metrics/{name}.json" for name in ("ngram", "charrnn", "dynamic", "mix", "wave", "wavernn_train")}
HEADER = ("task", "model", "test nats/char", "test bits/char", "val nats/char", "metrics file")
WAVE_HEADER = ("task", "model", "MSE mean", "MSE median", "MSE worst", "metrics file")


def load_metrics(root):
    """{name: data} of every metrics file the table reads, or a UserError naming the missing one."""
    found = {}
    for name, path in METRICS.items():
        file = Path(root) / path
        if not file.is_file():
            raise cli.UserError(f"{path}: not found; run `dvc repro` (or `dvc pull`) first")
        found[name] = json.loads(file.read_text())
    return found


def text_rows(config, metrics):
    """(model, test nats, test bits, val nats, file) of each text model."""
    char = f"{config['cell'].upper()} {config['num_layers']} x {config['hidden_size']}"
    dynamic = config["dynamic_eval"]
    adapting = f"dynamic evaluation ({dynamic['method']}, step {dynamic['step']:g}, decay {dynamic['decay']:g}, segments of {dynamic['segment_len']})"
    ngram, charrnn, adapted, mix = (metrics[name] for name in ("ngram", "charrnn", "dynamic", "mix"))
    return [
        (f"Kneser-Ney {config['ngram']['max_order']}-gram", ngram["test_loss"], ngram["test_bpc"], ngram["val_loss"], METRICS["ngram"]),
        (f"char-RNN, {char}, static", charrnn["test_loss"], charrnn["test_bpc"], charrnn["val_loss"], METRICS["charrnn"]),
        (f"char-RNN, {char}, {adapting}", adapted["test_loss"], adapted["test_bpc"], adapted["val_loss"], METRICS["dynamic"]),
        (f"char-RNN + n-gram, static (RNN weight {mix['rnn_weight']:.3f}, fitted on val)", mix["test_loss_mix"], mix["test_bpc_mix"], mix["val_loss_mix"], METRICS["mix"]),
        (f"char-RNN + n-gram, dynamic (RNN weight {mix['rnn_weight_dynamic']:.3f})", mix["test_loss_mix_dynamic"], mix["test_bpc_mix_dynamic"], mix["val_loss_mix_dynamic"], METRICS["mix"]),
        (f"char-RNN + n-gram + cache n-gram of the text read so far, dynamic (weights {mix['rnn_weight_adaptive']:.3f}, "
         f"{1 - mix['rnn_weight_adaptive'] - mix['cache_weight_adaptive']:.3f}, {mix['cache_weight_adaptive']:.3f})",
         mix["test_loss_mix_adaptive"], mix["test_bpc_mix_adaptive"], mix["val_loss_mix_adaptive"], METRICS["mix"]),
    ]


def wave_rows(config, metrics):
    """(model, mean, median, worst, file) of the wave model and the zero predictor."""
    wave, section = metrics["wave"], config["wavernn"]
    model = f"{section['cell'].upper()} {section['num_layers']} x {section['hidden_size']}, {metrics['wavernn_train']['steps']} steps"
    return [
        ("predict zero", wave["zero_predictor_mse_mean"], None, None, METRICS["wave"]),
        (model, wave["mse_mean"], wave["mse_median"], wave["mse_worst"], METRICS["wave"]),
    ]


def table(header, rows, markdown, number):
    """Rows (task, model, numbers..., file) as a Markdown table or as aligned plain text."""
    cells = [list(header)] + [[row[0], row[1], *(number(value) for value in row[2:-1]), row[-1]] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells[1:]])
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells)


def results(root=".", markdown=True):
    """The Results tables (text, then waves) of the project at `root`."""
    config = params.read_yaml(Path(root) / "params.yaml")
    metrics = load_metrics(root)
    text = table(HEADER, [("text", *row) for row in text_rows(config, metrics)], markdown, str)  # as the file holds it: no digit added or dropped
    waves = table(WAVE_HEADER, [("waves", *row) for row in wave_rows(config, metrics)], markdown,
                  lambda v: "" if v is None else f"{v:.3g}")
    return f"{text}\n\n{waves}\n"


TIMED = (  # (stage, timing log, its metrics file, rate column, rate unit)
    ("train_charrnn", "plots/charrnn_timing.csv", "metrics/charrnn.json", "chars_per_s", "chars/s"),
    ("train_wavernn", "plots/wavernn_timing.csv", "metrics/wavernn_train.json", "waves_per_s", "waves/s"),
)
DYNAMIC_TIMING = ("dynamic_eval", "plots/dynamic_timing.csv", "metrics/dynamic.json")
TIMES_HEADER = ("stage", "work", "seconds", "rate", "machine (from the metrics file)", "timing file")


def read_rows(root, path):
    """The rows of a CSV file under `root`, as the file holds them (text), or a UserError naming it."""
    file = Path(root) / path
    if not file.is_file():
        raise cli.UserError(f"{path}: not found; run `dvc repro` (or `dvc pull`) first")
    with file.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def machine(root, path):
    """The machine a metrics file records: CPU, torch's thread count, device."""
    data = json.loads((Path(root) / path).read_text())
    return experiments.machine_label(*(data.get(key, "?") for key in experiments.MACHINE_KEYS))


def training_row(root, stage, log, metrics, rate, unit):
    """A trainer's row: its training steps' seconds (periodic val, checkpoints and the final scoring not counted)."""
    last = read_rows(root, log)[-1]  # the last step always logs: its seconds are the whole training's
    return (stage, f"{last['step']} training steps", last["train_seconds"], f"{last[rate]} {unit}", machine(root, metrics), log)


def time_rows(root):
    """(stage, work, seconds, rate, machine, file) of every timed part of the committed run, in the pipeline's order."""
    char, wave = (training_row(root, *entry) for entry in TIMED)
    stage, log, metrics = DYNAMIC_TIMING
    adapting = [(stage, f"{part['part']}: {part['chars']} chars", part["seconds"], "", machine(root, metrics), log)
                for part in read_rows(root, log)]
    return [char, *adapting, wave]


def times(root=".", markdown=True):
    """The table of what the committed run's training and evaluation took, and on which machine."""
    return table(TIMES_HEADER, time_rows(root), markdown, str) + "\n"


# Generated blocks of Markdown files: their kinds, the command each marker must name, and their text.
KINDS = ("results", "times", "transcript")
COMMANDS = {"results": "python -m stages.report --md", "times": "python -m stages.report --times --md"}
BLOCK = re.compile(r"^<!-- (?P<kind>results|times|transcript): (?P<source>[^\n]+?) -->\n(?P<body>.*?)^<!-- /(?P=kind) -->$",
                   re.MULTILINE | re.DOTALL)


def block_text(kind, source, root="."):
    """What the block of `kind` whose marker names `source` must hold: a table between blank lines, or a fenced transcript."""
    if kind == "transcript":
        file = Path(root) / source
        if not file.is_file():
            raise cli.UserError(f"{source}: transcript not found (docs/record.sh records it)")
        body = file.read_text(encoding="utf-8")
        return "```\n" + body + ("" if body.endswith("\n") else "\n") + "```\n"
    if source != COMMANDS[kind]:
        raise cli.UserError(f"a '{kind}' block must name its command exactly: <!-- {kind}: {COMMANDS[kind]} -->, not '{source}'")
    return "\n" + (results(root) if kind == "results" else times(root)) + "\n"


def blocks(text):
    """(kind, source, body, line number of the body's first line) of each generated block of `text`."""
    return [(m["kind"], m["source"], m["body"], text.count("\n", 0, m.start("body")) + 1) for m in BLOCK.finditer(text)]


def update_text(text, root=".", kinds=KINDS):
    """`text` with every generated block of `kinds` rewritten from its source; nothing else changes."""
    def rewrite(m):
        if m["kind"] not in kinds:
            return m[0]
        return f"<!-- {m['kind']}: {m['source']} -->\n{block_text(m['kind'], m['source'], root)}<!-- /{m['kind']} -->"

    return BLOCK.sub(rewrite, text)


def stale_blocks(path, root=".", text=None, kinds=KINDS):
    """One message per block of `kinds` in the file `path` (or in `text`, named `path`) that differs
    from its source, naming the first line that differs, as the file has it and as its source has it."""
    text = Path(path).read_text(encoding="utf-8") if text is None else text
    messages = []
    for kind, source, body, first in blocks(text):
        if kind not in kinds:
            continue
        expected = block_text(kind, source, root)
        if body == expected:
            continue
        found, wanted = body.split("\n"), expected.split("\n")
        at = next((i for i, (a, b) in enumerate(zip(found, wanted)) if a != b), min(len(found), len(wanted)))
        diff = "\n".join(difflib.unified_diff(found, wanted, f"{path} (as written)", f"{source} (now)", n=0, lineterm=""))
        messages.append(
            f"{path}:{first + at}: the {kind} block ({source}) differs from its source at this line\n"
            f"  the file has:   {found[at] if at < len(found) else '(nothing: the block ends here)'}\n"
            f"  its source has: {wanted[at] if at < len(wanted) else '(nothing: the block ends here)'}\n"
            f"{diff}\n"
            + (f"splice the file in again with: python -m stages.report --update {path} (docs/record.sh re-records it)"
               if kind == "transcript" else f"re-record with: python -m stages.report --update {path}")
        )
    return messages


def main():
    parser = argparse.ArgumentParser(prog="python -m stages.report", description=__doc__.splitlines()[0])
    parser.add_argument("--md", action="store_true", help="Markdown tables, as in the README")
    parser.add_argument("--times", action="store_true", help="the committed run's training and evaluation times, not the results")
    parser.add_argument("--update", nargs="+", metavar="FILE", help="rewrite every generated block of these Markdown files")
    parser.add_argument("--check", nargs="+", metavar="FILE", help="exit 1 where a generated block of these files is stale")
    args = parser.parse_args()
    if args.update:
        for path in args.update:
            text = Path(path).read_text(encoding="utf-8")
            new = update_text(text)
            if new != text:
                io.write_text(path, new)
            print(f"{path}: {len(blocks(new))} generated blocks, {'rewritten' if new != text else 'already up to date'}")
    elif args.check:
        messages = [message for path in args.check for message in stale_blocks(path)]
        print("\n\n".join(messages) if messages else f"{len(args.check)} files: every generated block equals its source")
        raise SystemExit(1 if messages else 0)
    else:
        print((times if args.times else results)(markdown=args.md), end="")


if __name__ == "__main__":
    cli.run(main)

"""The Results table of the README, printed from the committed metrics and params.yaml.

    python -m stages.report [--md]

One row per model on the test split (text) or the protocol's 1000 waves (waves), with val
beside the text rows. The README's table is this command's `--md` output, pasted between its
markers; tests/test_report.py fails when the two differ. A command, not a DVC stage: it writes
nothing.
"""

import argparse
import json
from pathlib import Path

from stages.lib import cli, params

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


def main():
    parser = argparse.ArgumentParser(prog="python -m stages.report", description=__doc__.splitlines()[0])
    parser.add_argument("--md", action="store_true", help="Markdown tables, as in the README")
    print(results(markdown=parser.parse_args().md), end="")


if __name__ == "__main__":
    cli.run(main)

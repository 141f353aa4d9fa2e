"""Char-RNN training recipes at an equal CPU budget, side by side in one run.

    python -m benchmarks.char_candidates                      # every row, about 10 minutes each
    python -m benchmarks.char_candidates --rows before,now    # the old default against params.yaml
    python -m benchmarks.char_candidates --rows small_b32 --steps 8600 --threads 1   # one recorded row again

Each row is the train_charrnn stage's code path (benchmarks.recipes) with a few params
changed, scored on the whole val split. `before` is the default as it was before issue 15,
spelled out here so that the row keeps its meaning whatever params.yaml says; `now` is
params.yaml as it stands. The rows of ROWS change `before` in one or two ways, those of
ROWS_ON_NOW (issue 21's scan cells, the windows of 64 it replaced and windows of 16) change
`now`. Rows that change only the optimizer (its keys cost nothing per step) train their
base's steps; a row that changes the model, the batch or the window trains the steps that
fit in its base's time, from a paired calibration of both (CALIBRATION_STEPS each). Each row
also reports its model FLOP per character and the FLOP/s it achieved (benchmarks.flops).
Prints a table, then one JSON object on the last line.
"""

import argparse
import json
import os

os.environ.setdefault("TQDM_DISABLE", "1")

from benchmarks import flops, recipes  # noqa: E402
from stages.lib import text  # noqa: E402
from stages.lib.models import CharRNN, char_architecture  # noqa: E402

CALIBRATION_STEPS = 30
BEFORE = {
    "cell": "lstm", "hidden_size": 512, "num_layers": 2, "embedding_dim": 64, "precision": "bfloat16",
    "steps": 3000, "batch_size": 64, "seq_len": 64, "lr": 0.003, "warmup_steps": 50,
    "min_lr_fraction": 0.05, "adam_beta2": 0.999, "dropout": 0.0, "weight_decay": 0.0, "skip_connections": False,
}
ROWS = {
    "before": {},
    "now": None,  # params.yaml unchanged
    "beta2": {"adam_beta2": 0.99},
    "beta2_peak": {"adam_beta2": 0.99, "lr": 0.005, "warmup_steps": 20},
    "beta2_dropout": {"adam_beta2": 0.99, "dropout": 0.1},
    "batch128": {"batch_size": 128, "lr": 0.0042},
    "peak_low": {"lr": 0.002},
    "peak_high": {"lr": 0.004},
    "small_b32": {"hidden_size": 384, "batch_size": 32},
    "deep_b32": {"hidden_size": 384, "num_layers": 3, "batch_size": 32},
    "wd": {"weight_decay": 0.1},
    "skip": {"skip_connections": True},
}
ROWS_ON_NOW = {  # issue 21: cells whose matrix products take the whole window, and other windows
    "window_64": {"seq_len": 64},  # the default's windows before issue 21 (2900 steps in the same time)
    "window_16": {"seq_len": 16},  # half the default's: lost on seed 0 at full length (BENCHMARKS.md)
    "qrnn": {"cell": "qrnn"},
    "qrnn_768": {"cell": "qrnn", "hidden_size": 768},
    "qrnn_3x512": {"cell": "qrnn", "num_layers": 3},
    "sru": {"cell": "sru"},
    "mingru": {"cell": "mingru"},
}
OPTIMIZER_KEYS = ("lr", "warmup_steps", "min_lr_fraction", "adam_beta2", "weight_decay", "clip")


def base_of(name):
    """The row a row changes: `now` for ROWS_ON_NOW, `before` for the others (None for `before` and `now`)."""
    if name in ("before", "now"):
        return None
    return "now" if name in ROWS_ON_NOW else "before"


def overrides_for(name, threads):
    """The recipes.configure overrides of a row."""
    pinned = {"threads": threads, "device": "cpu"}
    if name == "now":
        return pinned
    if name in ROWS_ON_NOW:
        return {**ROWS_ON_NOW[name], **pinned}
    return {**BEFORE, **ROWS[name], **pinned}


def cost_keys(config, section):
    """The params of a configured row that change the time of a step: all but the optimizer's and `steps`."""
    top = {key: config[key] for key in recipes.TOP_LEVEL["char"]}
    return {**top, **{key: value for key, value in section.items() if key not in OPTIMIZER_KEYS + ("steps",)}}


def equal_time_steps(overrides, threads, base="before"):
    """The base row's steps, scaled by the time per step of the base over this row's when more than the optimizer differs."""
    base_overrides = overrides_for(base, threads)
    base_config, base_section = recipes.configure("char", base_overrides)
    if cost_keys(*recipes.configure("char", overrides)) == cost_keys(base_config, base_section):
        return base_section["steps"]
    ratio = recipes.char_seconds_per_step(base_overrides, CALIBRATION_STEPS) / recipes.char_seconds_per_step(overrides, CALIBRATION_STEPS)
    return max(1, round(base_section["steps"] * ratio))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(ROWS), help=f"a comma-separated subset of {','.join({**ROWS, **ROWS_ON_NOW})}")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads for every row")
    parser.add_argument("--steps", type=int, help="train this many steps in every row but `now`, instead of the "
                        "equal-time count (to repeat a recorded row exactly: the results do not depend on --threads)")
    args = parser.parse_args()
    names = args.rows.split(",")
    known = {**ROWS, **ROWS_ON_NOW}
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {','.join(known)}")
    results = []
    print(f"{'row':<14} {'steps':>6} {'train s':>8} {'chars/s':>9} {'MFLOP/ch':>8} {'TFLOP/s':>7} {'val nats':>8} {'bpc':>6}", flush=True)
    for name in names:
        overrides = overrides_for(name, args.threads)
        if name != "now":
            overrides["steps"] = args.steps or equal_time_steps(overrides, args.threads, base_of(name) or "before")
        config, section = recipes.configure("char", overrides)
        result = recipes.run_char(config, section)
        flop = flops.flop_per_char(CharRNN(**char_architecture(config, len(text.load_vocab()))))
        results.append({"row": name, "base": base_of(name), "changes": known[name], "steps": section["steps"],
                        "flop_per_char": flop, "achieved_flops": round(flop * result["chars_per_s"]), **result})
        print(f"{name:<14} {section['steps']:>6} {result['train_seconds']:>8.1f} {result['chars_per_s']:>9,.0f} "
              f"{flop / 1e6:>8.1f} {flop * result['chars_per_s'] / 1e12:>7.3f} "
              f"{result['val_loss']:>8.4f} {text.nats_to_bits(result['val_loss']):>6.3f}", flush=True)
    print(json.dumps({"threads": args.threads, "rows": results}))


if __name__ == "__main__":
    main()

"""Dynamic evaluation's knobs chosen on val: step size, decay and segment length, for the trained char-RNN.

    python -m benchmarks.dynamic_eval [--chars 60000] [--steps 1e-4,2e-4,...] [--decays 0,...] [--segments 32,...]

Scores the first --chars characters of the val split with the model of `data/charrnn.pt` (run
`dvc repro train_charrnn` first) through the code the `dynamic_eval` stage runs, starting from
the `dynamic_eval` section of params.yaml, by coordinate search: every step size (the other knobs
as in params.yaml), then every decay at the best step, then every segment length at the best of
both. The best setting and params.yaml's are then scored on the whole val split beside the
static score. Never reads the test split. Prints a table, then one JSON object on the last line.
"""

import argparse
import copy
import json
import time

import torch

from stages.lib import dynamic, params, text, training
from stages.lib.models import CHAR_CHECKPOINT, CharRNN, load_model


def floats(value):
    return [float(item) for item in value.split(",")]


def parse_options():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=60_000, help="val characters each setting is scored on in the search")
    parser.add_argument("--method", choices=("rms", "sgd"), help="the rule (default: params.yaml's)")
    parser.add_argument("--steps", type=floats, default=[1e-4, 3e-4, 1e-3, 3e-3], help="step sizes to try")
    parser.add_argument("--decays", type=floats, default=[0.0, 1e-3, 1e-2], help="decays to try")
    parser.add_argument("--segments", type=lambda v: [int(item) for item in v.split(",")], default=[32, 64, 128], help="segment lengths to try")
    return parser.parse_args()


def main():
    args = parse_options()
    section = params.load("dynamic_eval")["dynamic_eval"]
    if args.method:
        section["method"] = args.method
    device = training.setup_device(section["device"], section["threads"])
    model = load_model(CHAR_CHECKPOINT, CharRNN, "train_charrnn").to(device)
    _, train, val = text.load_encoded()
    statistics = {}  # the train gradients' RMS per segment length
    scores = {}  # (setting, characters scored): (loss, seconds), so that no setting is scored twice on the same text

    def score(setting, data):
        key = (tuple(setting_label(setting).values()), len(data))
        if key not in scores:
            if setting["segment_len"] not in statistics:
                statistics[setting["segment_len"]] = dynamic.train_statistics(model, train, setting, device)
            began = time.perf_counter()
            nll = dynamic.adaptive_nll(copy.deepcopy(model), data, dynamic.rule_from(setting), device, statistics[setting["segment_len"]], desc=str(setting_label(setting)))
            scores[key] = float(nll.mean()), time.perf_counter() - began
        return scores[key]

    search = val[: args.chars + 1]
    rows, best = [], dict(section)
    print(f"{'method':>6} {'step':>8} {'decay':>7} {'segment':>7} {'val nats/char':>13} {'seconds':>7}  (first {len(search) - 1:,} val characters)")
    for key, values in (("step", args.steps), ("decay", args.decays), ("segment_len", args.segments)):
        tried = []
        for value in values:
            setting = {**best, key: value}
            loss, seconds = score(setting, search)
            if setting_label(setting) not in [setting_label(row) for row in rows]:  # two coordinates' sweeps may share a setting
                rows.append({**setting_label(setting), "val_loss_search": round(loss, 5), "seconds": round(seconds, 1)})
                print(f"{setting['method']:>6} {setting['step']:8.2g} {setting['decay']:7.2g} {setting['segment_len']:7d} {loss:13.5f} {seconds:7.1f}", flush=True)
            tried.append((loss, setting))
        best = min(tried, key=lambda pair: pair[0])[1]
    whole = {}
    for name, setting in (("static", {**section, "step": 0.0}), ("params.yaml", section), ("best", best)):
        whole[name] = round(score(setting, val)[0], 5)
        print(f"whole val ({len(val) - 1:,} characters), {name} {setting_label(setting)}: {whole[name]:.5f}", flush=True)
    print(json.dumps({"threads": torch.get_num_threads(), "search_chars": len(search) - 1, "search": rows,
                      "best": setting_label(best), "whole_val": whole}))


def setting_label(setting):
    return {key: setting[key] for key in ("method", "step", "decay", "segment_len")}


if __name__ == "__main__":
    main()

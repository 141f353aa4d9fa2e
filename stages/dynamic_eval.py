"""Stage `dynamic_eval`: the trained char-RNN scored on val and test while it adapts to the text it has already scored."""

import copy
import logging
import time

import numpy as np
import pandas as pd

from stages.lib import cli, dynamic, io, params, text, training
from stages.lib.models import CHAR_CHECKPOINT, CharRNN, load_model

log = logging.getLogger(__name__)

METRICS = "metrics/dynamic.json"
TIMING = "plots/dynamic_timing.csv"
UNITS = {"loss": float, "bpc": text.nats_to_bits}  # nats and bits per character


def main():
    config = params.load("dynamic_eval")["dynamic_eval"]
    device = training.setup_device(config["device"], config["threads"])
    model = load_model(CHAR_CHECKPOINT, CharRNN, "train_charrnn").to(device)
    vocab, train, val = text.load_encoded()
    splits = {"val": val, "test": text.load_split("test")}
    rule = dynamic.rule_from(config)
    started = time.perf_counter()
    rms = dynamic.train_statistics(model, train, config, device)
    timing = [{"part": "gradient statistics (train)", "chars": config["gradient_chars"], "seconds": time.perf_counter() - started}]
    scores = {}
    for name, data in splits.items():
        started = time.perf_counter()
        nll = dynamic.adaptive_nll(copy.deepcopy(model), data, rule, device, rms, desc=f"dynamic eval ({name})")
        timing.append({"part": name, "chars": len(nll), "seconds": time.perf_counter() - started})
        if not np.isfinite(nll).all():
            raise cli.UserError(f"dynamic_eval: the {name} loss became {nll.mean()}; lower 'dynamic_eval.step'")
        io.write_npy(text.DYNAMIC_NLL_FILES[name], nll)
        scores[name] = float(nll.mean())
    static = {name: float(io.read_output(text.CHARRNN_NLL_FILES[name], np.load, "train_charrnn").mean()) for name in splits}
    io.write_csv(TIMING, pd.DataFrame(timing).round({"seconds": 2}))
    io.write_json(
        METRICS,
        {
            **{f"{name}_{unit}": round(convert(scores[name]), 5) for name in ("test", "val") for unit, convert in UNITS.items()},
            "static_test_loss": round(static["test"], 5),  # equal to test_loss in metrics/charrnn.json
            "static_val_loss": round(static["val"], 5),
            "test_gain": round(static["test"] - scores["test"], 5),
            **training.machine(device),
        },
    )
    log.info("test loss %.4f nats/char adapted, %.4f static; val %.4f", scores["test"], static["test"], scores["val"])


if __name__ == "__main__":
    cli.run(main)

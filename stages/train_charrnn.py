"""Stage `train_charrnn`: the character RNN, trained by batched truncated BPTT, scored on the whole val and test splits."""

import logging

import numpy as np
import pandas as pd
import torch

from stages.lib import cli, io, params, streams, text, training
from stages.lib.models import CHAR_CHECKPOINT, CharRNN, char_architecture

log = logging.getLogger(__name__)

RESUME = "data/resume/charrnn.pt"
METRICS = "metrics/charrnn.json"
LOG = "plots/charrnn_train.csv"
TIMING = "plots/charrnn_timing.csv"  # seconds and chars/s: apart from the results, so that a retrain diffs clean


def main():
    config = params.load("train_charrnn")
    section = config["charrnn"]
    device = training.setup_device(section["device"], section["threads"])
    if section["precision"] == "bfloat16" and device.type == "cpu" and not torch.cpu._is_avx512_bf16_supported():
        log.warning("charrnn.precision: this CPU has no native bfloat16 (AVX512-BF16/AMX); float32 may be faster")
    vocab, train, val = text.load_encoded()
    test = text.load_split("test")
    training.seed_everything(section["seed"])
    architecture = char_architecture(config, len(vocab))
    model = CharRNN(**architecture).to(device)
    task = streams.TextStreamTask(train, val, section, section["seed"], device)
    history, timing = training.fit(
        model,
        task,
        section,
        section="charrnn",
        resume_path=RESUME,
        run_fingerprint=training.fingerprint(config, text.TRAIN_FILE, text.VAL_FILE, text.TEST_FILE),
        units_per_step=section["batch_size"] * section["seq_len"],
    )
    scores = {}
    for name, data in (("val", val), ("test", test)):
        nll = streams.stream_nll(model, data, device, batch_size=1, window=streams.SCORING_WINDOW)  # as dynamic_eval reads it
        if not np.isfinite(nll).all():
            raise training.non_finite_error(f"the {name} loss became {float(nll.mean())} (training diverged)", "charrnn")
        io.write_npy(text.CHARRNN_NLL_FILES[name], nll)
        scores[name] = float(nll.mean())
    history[-1]["val_loss_full"] = scores["val"]  # the whole split, apart from the monitor slice's val_loss
    training.save(CHAR_CHECKPOINT, {"architecture": architecture, "model": model.cpu().state_dict()})
    io.write_csv(LOG, pd.DataFrame(history))
    io.write_csv(TIMING, pd.DataFrame(timing))
    io.write_json(
        METRICS,
        {
            "test_loss": round(scores["test"], 5),
            "test_bpc": round(text.nats_to_bits(scores["test"]), 5),
            "val_loss": round(scores["val"], 5),
            "val_bpc": round(text.nats_to_bits(scores["val"]), 5),
            "train_loss": round(training.final_train_loss(history), 5),
            "steps": section["steps"],
            **training.machine(device),
        },
    )
    training.finish(RESUME)
    log.info("test loss %.4f nats/char (%.4f bits/char), val %.4f", scores["test"], text.nats_to_bits(scores["test"]), scores["val"])


if __name__ == "__main__":
    cli.run(main)

"""Stage `train_charrnn`: the character RNN, trained by batched truncated BPTT, scored on the whole val split."""

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


def main():
    config = params.load("train_charrnn")
    section = config["charrnn"]
    device = training.setup_device(section["device"], section["threads"])
    if section["precision"] == "bfloat16" and device.type == "cpu" and not torch.cpu._is_avx512_bf16_supported():
        log.warning("charrnn.precision: this CPU has no native bfloat16 (AVX512-BF16/AMX); float32 may be faster")
    vocab, train, val = text.load_encoded()
    training.seed_everything(section["seed"])
    architecture = char_architecture(config, len(vocab))
    model = CharRNN(**architecture).to(device)
    task = streams.TextStreamTask(train, val, section, section["seed"], device)
    history, speed = training.fit(
        model,
        task,
        section,
        section="charrnn",
        resume_path=RESUME,
        run_fingerprint=training.fingerprint(config, text.TRAIN_FILE, text.VAL_FILE),
        units_per_step=section["batch_size"] * section["seq_len"],
    )
    val_nll = streams.stream_nll(model, val, device)
    val_loss = float(val_nll.mean())
    if not np.isfinite(val_nll).all():
        raise training.non_finite_error(f"the val loss became {val_loss} (training diverged)", "charrnn")
    history[-1]["val_loss_full"] = val_loss  # the whole split, apart from the monitor slice's val_loss
    recent = [row["train_loss"] for row in history[-section["log_every"] :]]
    io.write_npy(text.CHARRNN_VAL_NLL_FILE, val_nll)
    training.save(CHAR_CHECKPOINT, {"architecture": architecture, "model": model.cpu().state_dict()})
    io.write_csv(LOG, pd.DataFrame(history))
    io.write_json(
        METRICS,
        {
            "val_loss": round(val_loss, 5),
            "val_bpc": round(text.nats_to_bits(val_loss), 5),
            "train_loss": round(sum(recent) / len(recent), 5),
            "steps": section["steps"],
            **speed,
        },
    )
    training.finish(RESUME)
    log.info("val loss %.4f nats/char (%.4f bits/char)", val_loss, text.nats_to_bits(val_loss))


if __name__ == "__main__":
    cli.run(main)

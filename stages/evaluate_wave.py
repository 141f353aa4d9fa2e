"""Stage `evaluate_wave`: the fixed protocol on validation waves (1000 waves of 1000 steps)."""

import logging
import time

import pandas as pd
import torch

from stages.lib import cli, io, params, training, waves
from stages.lib.models import WAVE_CHECKPOINT, WaveRNN, load_model

log = logging.getLogger(__name__)

METRICS = "metrics/wave.json"
PER_WAVE = "metrics/wave_per_sequence.csv"
EXAMPLES = {"best": "plots/wave_best.csv", "worst": "plots/wave_worst.csv"}


def examples(validation, predictions, mse, warmup):
    """{"best"/"worst": table of that validation wave's predicted steps: step, truth, prediction, error}.

    Only the predicted steps, so that no cell is empty (`dvc plots` would draw one as zero).
    """
    steps = range(warmup, validation.values.shape[1])
    tables = {}
    for name, index in (("best", int(mse.argmin())), ("worst", int(mse.argmax()))):
        truth = validation.values[index, warmup:].numpy()
        prediction = predictions[index].numpy()
        tables[name] = pd.DataFrame({"step": steps, "truth": truth, "prediction": prediction, "error": prediction - truth})
    return tables


def main():
    config = params.load("evaluate_wave")["evaluate_wave"]
    device = training.setup_device("cpu", config["threads"])
    model = load_model(WAVE_CHECKPOINT, WaveRNN, "train_wavernn")
    validation = waves.validation_waves(config["seed"], config["count"], config["length"])
    began = time.perf_counter()
    mse, predictions = waves.protocol_mse(model, validation, config["warmup"])
    seconds = time.perf_counter() - began
    diverged = int((~torch.isfinite(mse)).sum())
    if diverged:
        raise training.non_finite_error(
            f"the wave model's free-running predictions became NaN or infinite on {diverged} of {len(mse)} waves", "wavernn"
        )
    metrics = waves.summary(mse, waves.zero_predictor_mse(validation, config["warmup"]))
    io.write_json(METRICS, {**metrics, **training.machine(device)})
    table = pd.DataFrame(
        {
            "wave": range(len(mse)),
            "amplitude": validation.amplitude.numpy(),
            "phase": validation.phase.numpy(),
            "mse": mse.numpy(),
        }
    )
    io.write_csv(PER_WAVE, table)
    for name, table in examples(validation, predictions, mse, config["warmup"]).items():
        io.write_csv(EXAMPLES[name], table)
    log.info("mse_mean %.3g, mse_worst %.3g over %d waves in %.2f s", metrics["mse_mean"], metrics["mse_worst"], len(mse), seconds)


if __name__ == "__main__":
    cli.run(main)

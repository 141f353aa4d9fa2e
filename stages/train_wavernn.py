"""Stage `train_wavernn`: train the wave model on freshly generated cosine waves."""

import logging
import math

import pandas as pd

from stages.lib import cli, io, params, training, waves
from stages.lib.models import WAVE_CHECKPOINT, WaveRNN, wave_architecture

log = logging.getLogger(__name__)

RESUME = "data/resume/wavernn.pt"
METRICS = "metrics/wavernn_train.json"
LOG = "plots/wavernn_train.csv"
TIMING = "plots/wavernn_timing.csv"  # seconds and waves/s: apart from the results, so that a retrain diffs clean


def main():
    config = params.load("train_wavernn")
    section = config["wavernn"]
    device = training.setup_device(section["device"], section["threads"])
    training.seed_everything(section["seed"])
    architecture = wave_architecture(section)
    model = WaveRNN(**architecture).to(device)
    task = waves.WaveTask(section, section["seed"], device)
    history, timing = training.fit(
        model,
        task,
        section,
        section="wavernn",
        resume_path=RESUME,
        run_fingerprint=training.fingerprint(config),
        units_per_step=section["batch_size"],
        unit="wave",
    )
    final_monitor_mse = task.evaluate(model)
    if not math.isfinite(final_monitor_mse):
        raise training.non_finite_error("the wave model's free-running predictions on the monitoring waves became NaN or infinite", "wavernn")
    training.save(WAVE_CHECKPOINT, {"architecture": architecture, "model": model.cpu().state_dict()})
    io.write_csv(LOG, pd.DataFrame(history))
    io.write_csv(TIMING, pd.DataFrame(timing))
    io.write_json(
        METRICS,
        {
            "train_loss": training.final_train_loss(history),
            "monitor_mse": final_monitor_mse,
            "steps": section["steps"],
            **training.machine(device),
        },
    )
    training.finish(RESUME)
    log.info("monitor MSE after %d steps: %.3g", section["steps"], final_monitor_mse)


if __name__ == "__main__":
    cli.run(main)

"""Where the wave model's error comes from: amplitude drift versus phase drift.

    python -m benchmarks.wave_error

Runs the protocol with the committed model (data/wavernn.pt) on the selection waves (the
protocol's count and length, recipes.SELECTION_SEED: recipes are chosen on these, never on the
protocol's own waves) and fits, on the last 100 steps of each free-running prediction, a
cosine of the true frequency: A' cos(t + phi') (recipes.error_parts). It prints the amplitude ratio
A'/A and the phase error phi' - phi, and the MSE each alone would cause; then the MSE of the
first and the last 100 free-running steps (a drift grows between them, a wrong wave shape
does not) and the error's MSE at 1, 2 and 3 times the wave's frequency (recipes.harmonics).
`benchmarks.wave_seeds` prints the same figures for a fresh model per seed.
"""

import json

import torch

from benchmarks.recipes import SELECTION_SEED, error_parts
from stages.lib import params, waves
from stages.lib.models import WAVE_CHECKPOINT, WaveRNN, load_model


def main():
    config = params.load("evaluate_wave")["evaluate_wave"]
    torch.set_num_threads(config["threads"])
    model = load_model(WAVE_CHECKPOINT, WaveRNN, "train_wavernn")
    validation = waves.validation_waves(SELECTION_SEED, config["count"], config["length"])
    mse, predictions = waves.protocol_mse(model, validation, config["warmup"])
    print(json.dumps({"mse_mean": float(mse.mean()), **error_parts(predictions, validation)}, indent=1))


if __name__ == "__main__":
    main()

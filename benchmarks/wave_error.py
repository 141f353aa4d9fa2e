"""Where the wave model's error comes from: amplitude drift versus phase drift.

    python -m benchmarks.wave_error

Runs the protocol with the committed model (data/wavernn.pt) on the selection waves (the
protocol's count and length, recipes.SELECTION_SEED: recipes are chosen on these, never on the
protocol's own waves) and fits, on the last 100 steps
of each free-running prediction, a cosine of the true frequency: A' cos(t + phi'). It prints
the amplitude ratio A'/A and the phase error phi' - phi, and the MSE each alone would cause.
"""

import json

import numpy as np
import torch

from benchmarks.recipes import SELECTION_SEED
from stages.lib import params, waves
from stages.lib.models import WAVE_CHECKPOINT, WaveRNN, load_model


def fit_cosine(t, values):
    """Least-squares amplitude and phase of values ~ A cos(t + phi) on the grid t."""
    basis = np.stack([np.cos(t), -np.sin(t)], axis=1)
    (a, b), *_ = np.linalg.lstsq(basis, values, rcond=None)
    return np.hypot(a, b), np.arctan2(b, a)


def main():
    config = params.load("evaluate_wave")["evaluate_wave"]
    torch.set_num_threads(config["threads"])
    model = load_model(WAVE_CHECKPOINT, WaveRNN, "train_wavernn")
    validation = waves.validation_waves(SELECTION_SEED, config["count"], config["length"])
    mse, predictions = waves.protocol_mse(model, validation, config["warmup"])
    t = np.arange(config["length"]) * waves.STEP
    tail = slice(config["length"] - 100, config["length"])
    ratios, shifts = [], []
    for i in range(len(mse)):
        amplitude, phase = fit_cosine(t[tail], predictions[i, -100:].double().numpy())
        ratios.append(amplitude / float(validation.amplitude[i]))
        shifts.append((phase - float(validation.phase[i]) + np.pi) % (2 * np.pi) - np.pi)
    ratios, shifts = np.array(ratios), np.array(shifts)
    amplitude2 = validation.amplitude.double().numpy() ** 2
    print(json.dumps({
        "mse_mean": float(mse.mean()),
        "amplitude_ratio_mean": float(ratios.mean()),
        "amplitude_ratio_min": float(ratios.min()),
        "amplitude_ratio_max": float(ratios.max()),
        "phase_error_rad_mean_abs": float(np.abs(shifts).mean()),
        "phase_error_rad_max_abs": float(np.abs(shifts).max()),
        "last_100_steps_mse_from_amplitude_alone": float(np.mean(amplitude2 * (ratios - 1) ** 2 / 2)),
        "last_100_steps_mse_from_phase_alone": float(np.mean(amplitude2 * (1 - np.cos(shifts)))),
        "last_100_steps_mse": float((predictions[:, -100:] - validation.values[:, tail]).double().pow(2).mean()),
    }, indent=1))


if __name__ == "__main__":
    main()

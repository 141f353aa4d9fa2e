"""benchmarks.recipes' analysis of a free run's error: drift (amplitude, phase) and harmonics."""

import math

import pytest
import torch

from benchmarks import recipes
from stages.lib import waves

WARMUP = 100


def free_run_of(validation, amplitude_ratio=1.0, phase_error=0.0, third_harmonic=0.0):
    """Predictions laid out as waves.free_run returns them (steps warmup .. length-1), made from
    the true waves with a known amplitude ratio, phase error and added third harmonic."""
    length = validation.values.shape[1]
    t = torch.arange(WARMUP, length, dtype=torch.float64) * waves.STEP
    angle = t[None, :] + validation.phase.double()[:, None]
    amplitude = validation.amplitude.double()[:, None]
    return (amplitude_ratio * amplitude * torch.cos(angle + phase_error) + third_harmonic * torch.cos(3 * angle)).float()


@pytest.fixture(scope="module")
def validation():
    return waves.validation_waves(seed=7, count=50, length=1000)


def test_drift_recovers_a_known_amplitude_ratio_and_phase_error(validation):
    result = recipes.error_parts(free_run_of(validation, amplitude_ratio=0.99, phase_error=0.01), validation)
    assert result["amplitude_ratio_mean"] == pytest.approx(0.99, abs=1e-5)
    assert result["phase_error_rad_mean"] == pytest.approx(0.01, abs=1e-5)  # positive: the prediction is ahead
    assert result["mse_at_harmonic_3"] < 1e-2 * result["mse_at_harmonic_1"]


def test_a_perfect_free_run_has_no_drift_and_no_harmonics(validation):
    result = recipes.error_parts(free_run_of(validation), validation)
    assert result["amplitude_ratio_mean"] == pytest.approx(1.0, abs=1e-6)
    assert abs(result["phase_error_rad_mean"]) < 1e-6
    assert result["tail_mse"] < 1e-12 and result["head_mse"] < 1e-12
    assert max(result[f"mse_at_harmonic_{k}"] for k in (1, 2, 3)) < 1e-12


def test_harmonics_finds_a_distorted_shape_at_three_times_the_frequency(validation):
    size = 1e-3
    result = recipes.error_parts(free_run_of(validation, third_harmonic=size), validation)
    assert result["mse_at_harmonic_3"] == pytest.approx(size**2 / 2, rel=0.02)  # the MSE of size * cos(3 angle)
    assert result["mse_at_harmonic_1"] < 1e-2 * result["mse_at_harmonic_3"]
    assert result["head_mse"] == pytest.approx(result["tail_mse"], rel=0.1)  # a shape error does not grow
    assert result["amplitude_ratio_mean"] == pytest.approx(1.0, abs=1e-4)
    assert not math.isnan(result["phase_error_rad_max_abs"])

"""The equal-time rule of benchmarks.char_candidates: which rows get calibrated, and to how many steps."""

import pytest

from benchmarks import char_candidates
from benchmarks.char_candidates import BEFORE, equal_time_steps, overrides_for


def calibrated_with(monkeypatch, seconds_per_step):
    """Stub the step-time calibration: seconds per step from the overrides; record every call."""
    calls = []

    def fake(overrides, steps):
        calls.append(overrides)
        return seconds_per_step(overrides)

    monkeypatch.setattr(char_candidates.recipes, "char_seconds_per_step", fake)
    return calls


def test_an_optimizer_only_row_trains_befores_steps_without_calibration(monkeypatch):
    calls = calibrated_with(monkeypatch, lambda overrides: 1.0)
    overrides = {**overrides_for("before", 2), "lr": 0.001, "adam_beta2": 0.99, "warmup_steps": 7}
    assert equal_time_steps(overrides, 2) == BEFORE["steps"]
    assert calls == []


def test_a_row_that_changes_the_model_or_the_batch_trains_the_steps_that_fit_in_befores_time(monkeypatch):
    calibrated_with(monkeypatch, lambda overrides: 0.2 * overrides["hidden_size"] / 512 * overrides["batch_size"] / 64)
    for change, expected in (
        ({"hidden_size": 256}, 2 * BEFORE["steps"]),
        ({"batch_size": 128}, BEFORE["steps"] // 2),
        ({"hidden_size": 256, "batch_size": 32}, 4 * BEFORE["steps"]),
    ):
        assert equal_time_steps({**overrides_for("before", 2), **change}, 2) == expected


def test_dropout_costs_time_so_its_row_is_calibrated(monkeypatch):
    calls = calibrated_with(monkeypatch, lambda overrides: 1.25 if overrides["dropout"] else 1.0)
    assert equal_time_steps({**overrides_for("before", 2), "dropout": 0.1}, 2) == round(BEFORE["steps"] / 1.25)
    assert len(calls) == 2


def test_before_pins_the_architecture_whatever_params_yaml_says():
    for key in ("cell", "hidden_size", "num_layers", "embedding_dim", "precision", "skip_connections", "batch_size", "seq_len", "steps", "lr"):
        assert key in overrides_for("before", 1)


def test_a_scan_cell_row_trains_the_steps_that_fit_in_the_current_defaults_time(monkeypatch):
    calls = calibrated_with(monkeypatch, lambda overrides: 0.5 if overrides.get("cell") == "qrnn" else 1.0)
    overrides = overrides_for("qrnn", 2)
    assert overrides["cell"] == "qrnn" and "hidden_size" not in overrides  # the rest is params.yaml's
    default_steps = char_candidates.recipes.configure("char", {})[1]["steps"]
    assert equal_time_steps(overrides, 2, char_candidates.base_of("qrnn")) == 2 * default_steps
    assert calls == [overrides_for("now", 2), overrides]


@pytest.mark.parametrize("row, window, cost", [("window_64", 64, 2.0), ("window_16", 16, 0.5)])
def test_a_window_row_changes_only_the_window_and_trains_the_steps_of_the_defaults_time(monkeypatch, row, window, cost):
    calibrated_with(monkeypatch, lambda overrides: cost if overrides.get("seq_len") == window else 1.0)
    overrides = overrides_for(row, 2)
    assert overrides == {"seq_len": window, "threads": 2, "device": "cpu"}
    default_steps = char_candidates.recipes.configure("char", {})[1]["steps"]
    assert equal_time_steps(overrides, 2, char_candidates.base_of(row)) == round(default_steps / cost)

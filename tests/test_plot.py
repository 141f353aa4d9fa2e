import numpy as np
import pandas as pd
import pytest

from conftest import stage_main
from stages import plot


def wave_tables(warmup, length=40):
    """evaluate_wave's tables of the best and the worst wave: the predicted steps only."""
    steps = np.arange(warmup, length)
    tables = {}
    for name, sign, scale in (("best", 1, 1.01), ("worst", -1, 1.02)):
        truth = sign * np.cos(steps * 0.3)
        tables[name] = pd.DataFrame({"step": steps, "truth": truth, "prediction": truth * scale, "error": truth * (scale - 1)})
    return tables


def test_the_wave_figure_shades_the_warm_up_before_the_first_prediction():
    per_wave = pd.DataFrame({"wave": [0, 1, 2], "amplitude": [1.0, 0.7, 1.2], "phase": [0.1, 2.0, 4.0], "mse": [3e-5, 1e-6, 2e-4]})
    figure = plot.wave_examples(wave_tables(warmup=12), per_wave)
    best, worst = figure.axes[:2]  # then the two error axes
    assert best.patches[0].get_x() == 0 and best.patches[0].get_width() == 11
    truth, prediction = best.lines
    assert list(truth.get_xdata()) == list(range(40))  # the warm-up's truth redrawn from amplitude and phase
    assert truth.get_ydata()[0] == pytest.approx(0.7 * np.cos(2.0))
    assert list(prediction.get_xdata()) == list(range(12, 40))
    assert best.get_title().startswith("best of 3 waves: wave 1, MSE 1.00e-06")
    assert worst.get_title().startswith("worst of 3 waves: wave 2, MSE 2.00e-04")


def test_loss_curve_draws_the_rolling_mean_and_only_the_measured_val_points():
    history = pd.DataFrame({"step": range(1, 11), "train_loss": np.linspace(4, 2, 10), "val_loss": [np.nan] * 4 + [3.0] + [np.nan] * 4 + [2.5]})
    figure = plot.loss_curve(history, "t", "nats", rolling_window=3, val_label="val")
    raw, rolled, val = figure.axes[0].lines
    assert list(val.get_xdata()) == [5, 10]
    assert rolled.get_ydata()[-1] == pytest.approx(np.mean(np.linspace(4, 2, 10)[-3:]))
    assert figure.axes[0].get_xlabel() == "training step" and figure.axes[0].get_ylabel() == "nats"


def test_missing_inputs_name_the_file_and_the_stage_to_run(project):
    result = stage_main("plot", project, check=False)
    assert result.returncode == 2
    assert "plots/charrnn_train.csv: file not found; run the 'train_charrnn' stage first" in result.stderr
    assert not list(project.glob("plots/*.png"))


def test_a_log_without_val_points_draws_the_training_curve_alone():
    history = pd.DataFrame({"step": range(1, 11), "train_loss": np.linspace(4, 2, 10)})  # eval_every: 0
    assert plot.val_points(history).empty
    figure = plot.loss_curve(history, "t", "nats", rolling_window=3, val_label="val")
    assert len(figure.axes[0].lines) == 2


def test_the_final_whole_split_val_point_is_drawn_apart_from_the_monitor_points():
    history = pd.DataFrame({"step": range(1, 11), "train_loss": np.linspace(4, 2, 10),
                            "val_loss": [np.nan] * 4 + [3.0] + [np.nan] * 5, "val_loss_full": [np.nan] * 9 + [2.2]})
    figure = plot.loss_curve(history, "t", "nats", rolling_window=3, val_label="val (monitor slice)")
    _, _, monitor, final = figure.axes[0].lines
    assert list(monitor.get_xdata()) == [5] and list(final.get_xdata()) == [10]
    assert final.get_label() == "val (whole split), final" and final.get_linestyle() == "None"

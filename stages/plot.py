"""Stage `plot`: the figures of both studies as PNG files under plots/, drawn from the logs and metrics."""

import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import torch  # noqa: E402

from stages.lib import cli, io, params, waves  # noqa: E402

log = logging.getLogger(__name__)

CHAR_LOG = "plots/charrnn_train.csv"
WAVE_LOG = "plots/wavernn_train.csv"
WAVE_BEST = "plots/wave_best.csv"
WAVE_WORST = "plots/wave_worst.csv"
PER_WAVE = "metrics/wave_per_sequence.csv"
NGRAM_METRICS = "metrics/ngram.json"
CHAR_METRICS = "metrics/charrnn.json"
DYNAMIC_METRICS = "metrics/dynamic.json"
MIX_METRICS = "metrics/mix.json"
WAVE_METRICS = "metrics/wave.json"

# The val points of each training log alone, for `dvc plots` (which would draw a log's empty
# val cells as zeros).
CHAR_VAL = "plots/charrnn_val.csv"
WAVE_VAL = "plots/wavernn_val.csv"

FIGURES = {
    "charrnn_loss": "plots/charrnn_loss.png",
    "wavernn_loss": "plots/wavernn_loss.png",
    "wave_examples": "plots/wave_examples.png",
    "wave_mse": "plots/wave_mse.png",
    "bits_per_char": "plots/bits_per_char.png",
}


def val_points(history):
    """The rows of a training log where val_loss was measured: step, val_loss (none when eval_every is 0)."""
    if "val_loss" not in history:
        return pd.DataFrame({"step": pd.Series(dtype="int64"), "val_loss": pd.Series(dtype="float64")})
    return history.dropna(subset=["val_loss"])[["step", "val_loss"]]


def save(figure, path):
    """Write a figure as PNG atomically, without the metadata that would change between runs."""
    with io.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(figure)


def loss_curve(history, title, ylabel, rolling_window, val_label, log_scale=False):
    """Train loss per logged step, its rolling mean over `rolling_window` steps, and the val points."""
    figure, axes = plt.subplots(figsize=(8, 4.5))
    axes.plot(history.step, history.train_loss, color="tab:blue", alpha=0.3, linewidth=0.8, label="train (per step)")
    rolled = history.train_loss.rolling(rolling_window, min_periods=1).mean()
    axes.plot(history.step, rolled, color="tab:blue", linewidth=1.8, label=f"train (mean of last {rolling_window})")
    measured = val_points(history)
    if len(measured):
        axes.plot(measured.step, measured.val_loss, "o-", color="tab:red", markersize=4, label=val_label)
    if "val_loss_full" in history:
        final = history.dropna(subset=["val_loss_full"])
        axes.plot(final.step, final.val_loss_full, "*", color="black", markersize=11, label="val (whole split), final")
    if log_scale:
        axes.set_yscale("log")
    axes.set(title=title, xlabel="training step", ylabel=ylabel)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def wave_examples(predicted, per_wave):
    """Truth and free-running prediction of the best and the worst validation wave, with the error.

    predicted: {"best"/"worst": the wave's predicted steps (step, truth, prediction, error)}; the
    truth of the warm-up is redrawn from the wave's amplitude and phase in `per_wave`.
    """
    figure, panels = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    for axes, name, index in zip(panels, ("best", "worst"), (per_wave.mse.idxmin(), per_wave.mse.idxmax())):
        row, table = per_wave.loc[index], predicted[name]
        warmup = int(table.step.iloc[0])  # the steps read before the first prediction
        length = int(table.step.iloc[-1]) + 1
        truth = waves.cosine(torch.tensor([row.amplitude]), torch.tensor([row.phase]), length)[0].numpy()
        axes.axvspan(0, warmup - 1, color="0.9", label=f"warm-up ({warmup} true values read)")
        axes.plot(range(length), truth, color="black", linewidth=1.2, label="truth")
        axes.plot(table.step, table.prediction, "--", color="tab:orange", linewidth=1.2, label="prediction")
        axes.set(
            title=f"{name} of {len(per_wave)} waves: wave {int(row.wave)}, MSE {row.mse:.2e} "
            f"(amplitude {row.amplitude:.2f}, phase {row.phase:.2f} rad)",
            ylabel="value",
        )
        error_axes = axes.twinx()
        error_axes.plot(table.step, table.error, color="tab:red", linewidth=0.8, label="prediction - truth (right axis)")
        error_axes.set_ylabel("error", color="tab:red")
        bound = 1.1 * float(np.abs(table.error).max())
        error_axes.set_ylim(-bound, bound)
        axes.grid(alpha=0.3)
    handles = [*panels[0].get_legend_handles_labels()[0], *error_axes.get_legend_handles_labels()[0]]
    figure.legend(handles=handles, loc="lower center", ncol=4, fontsize="small")
    panels[1].set_xlabel("time step")
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    return figure


def wave_mse_distribution(per_wave, zero_mse):
    """Histogram of per-wave MSE on a log axis, with the mean and the predict-zero baseline."""
    figure, axes = plt.subplots(figsize=(8, 4.5))
    mse = per_wave.mse.to_numpy()
    bins = np.logspace(np.log10(mse.min()), np.log10(max(mse.max(), zero_mse)), 50)
    axes.hist(mse, bins=bins, color="tab:blue", alpha=0.8)
    axes.axvline(mse.mean(), color="tab:red", label=f"mean {mse.mean():.2e}")
    axes.axvline(np.median(mse), color="tab:green", label=f"median {np.median(mse):.2e}")
    axes.axvline(zero_mse, color="black", linestyle="--", label=f"predict zero {zero_mse:.3f}")
    axes.set_xscale("log")
    axes.set(title=f"Per-wave MSE over {len(mse)} validation waves", xlabel="MSE of the free-running steps", ylabel="waves")
    axes.legend()
    figure.tight_layout()
    return figure


def bits_per_char(ngram, charrnn, dynamic, mix):
    """Test bits/char of the n-gram by order, then the char-RNN and its n-gram mixture, static and
    adapting (dynamic evaluation), side by side: one text, one axis."""
    figure, axes = plt.subplots(figsize=(9, 4.5))
    orders = sorted(ngram["per_order"], key=int)
    bars = axes.bar([f"{order}-gram" for order in orders], [ngram["per_order"][order]["test_bpc"] for order in orders], color="tab:gray", label="Kneser-Ney n-gram")
    axes.bar_label(bars, fmt="%.2f", fontsize="small")
    models = {
        "char-RNN": (charrnn["test_bpc"], dynamic["test_bpc"]),
        "RNN + n-gram": (mix["test_bpc_mix"], mix["test_bpc_mix_dynamic"]),
    }
    axes.axhline(mix["test_bpc_mix_adaptive"], color="tab:red", linestyle="--",
                 label=f"adapting RNN + n-gram + cache n-gram {mix['test_bpc_mix_adaptive']:.3f}")
    width = 0.4
    for offset, (label, color, index) in enumerate((("static", "tab:blue", 0), ("dynamic evaluation", "tab:orange", 1))):
        positions = [len(orders) + i + (offset - 0.5) * width for i in range(len(models))]
        bars = axes.bar(positions, [values[index] for values in models.values()], width, color=color, label=label)
        axes.bar_label(bars, fmt="%.3f", fontsize="small")
    axes.set_xticks(list(range(len(orders) + len(models))), [f"{order}-gram" for order in orders] + list(models))
    axes.set(title="Test bits per character (lower is better)", xlabel="model", ylabel="bits/char")
    axes.legend()
    figure.tight_layout()
    return figure


def main():
    window = params.load("plot")["plot"]["rolling_window"]
    char_log = io.read_output(CHAR_LOG, pd.read_csv, "train_charrnn")
    wave_log = io.read_output(WAVE_LOG, pd.read_csv, "train_wavernn")
    per_wave = io.read_output(PER_WAVE, pd.read_csv, "evaluate_wave")
    predicted = {name: io.read_output(path, pd.read_csv, "evaluate_wave") for name, path in (("best", WAVE_BEST), ("worst", WAVE_WORST))}
    wave = io.read_output(WAVE_METRICS, io.read_json, "evaluate_wave")
    ngram = io.read_output(NGRAM_METRICS, io.read_json, "ngram")
    charrnn = io.read_output(CHAR_METRICS, io.read_json, "train_charrnn")
    dynamic = io.read_output(DYNAMIC_METRICS, io.read_json, "dynamic_eval")
    mix = io.read_output(MIX_METRICS, io.read_json, "mix")

    save(
        loss_curve(char_log, "Char-RNN training", "cross-entropy (nats/char)", window, "val (monitor slice)"),
        FIGURES["charrnn_loss"],
    )
    save(
        loss_curve(wave_log, "Wave-RNN training", "MSE (log scale)", window, "monitor waves (protocol MSE)", log_scale=True),
        FIGURES["wavernn_loss"],
    )
    save(wave_examples(predicted, per_wave), FIGURES["wave_examples"])
    io.write_csv(CHAR_VAL, val_points(char_log))
    io.write_csv(WAVE_VAL, val_points(wave_log))
    save(wave_mse_distribution(per_wave, wave["zero_predictor_mse_mean"]), FIGURES["wave_mse"])
    save(bits_per_char(ngram, charrnn, dynamic, mix), FIGURES["bits_per_char"])
    log.info("wrote %s", ", ".join([*FIGURES.values(), CHAR_VAL, WAVE_VAL]))


if __name__ == "__main__":
    cli.run(main)

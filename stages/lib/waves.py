"""Cosine waves of random phase and amplitude, and the fixed 1000-wave evaluation protocol."""

import math
from dataclasses import dataclass

import numpy as np
import torch


STEP = 10 / 99  # the teaching example's grid: t = linspace(0, 10, 100)
AMPLITUDE_RANGE = (0.5, 1.5)
MONITOR = {"count": 64, "length": 1000, "warmup": 100}  # waves watched during training


@dataclass
class Waves:
    """A batch of waves A * cos(t + phase) on the grid t = 0, STEP, 2 STEP, ..."""

    values: torch.Tensor  # [count, length]
    amplitude: torch.Tensor  # [count]
    phase: torch.Tensor  # [count]


def cosine(amplitude, phase, length):
    """A * cos(t + phase) at steps 0 .. length-1 of the grid, in float64: [count, length] for tensors [count]."""
    t = torch.arange(length, dtype=torch.float64) * STEP
    return amplitude[:, None].double() * torch.cos(t[None, :] + phase[:, None].double())


def make_waves(count, length, generator, device="cpu"):
    """`count` waves of `length` steps, phase ~ U[0, 2 pi), amplitude ~ U[0.5, 1.5]."""
    phase = torch.rand(count, generator=generator) * (2 * math.pi)
    low, high = AMPLITUDE_RANGE
    amplitude = low + (high - low) * torch.rand(count, generator=generator)
    return Waves(cosine(amplitude, phase, length).float().to(device), amplitude, phase)


def validation_waves(seed, count, length):
    """The protocol's validation set: drawn from its own seed, never from the training stream."""
    return make_waves(count, length, torch.Generator().manual_seed(seed))


@torch.no_grad()
def free_run(model, values, warmup):
    """Predictions p[:, t] of values[:, t] for t = warmup .. length-1.

    The model reads the first `warmup` true values in one call; its last output predicts
    values[:, warmup]. From there it is fed its own predictions, one step at a time.
    """
    length = values.shape[1]
    outputs, state = model(values[:, :warmup, None], None)
    prediction = outputs[:, -1]
    predictions = [prediction]
    for _ in range(warmup + 1, length):
        prediction, state = model.step(prediction, state)
        predictions.append(prediction)
    return torch.cat(predictions, dim=1)


def protocol_mse(model, waves, warmup):
    """Per-wave MSE of the free-running predictions of steps warmup+1 .. length-1 (0-based).

    The prediction of step `warmup` comes straight from the last true value and is not scored:
    the scored steps are the ones predicted from the model's own outputs.
    """
    predictions = free_run(model, waves.values, warmup)
    scored = slice(1, None)
    error = predictions[:, scored] - waves.values[:, warmup + 1 :]
    return error.double().pow(2).mean(dim=1), predictions


def summary(mse, zero_mse):
    """The metrics of wave.json from per-wave MSEs."""
    return {
        "mse_mean": float(mse.mean()),
        "mse_median": float(np.median(mse.numpy())),
        "mse_worst": float(mse.max()),
        "mse_best": float(mse.min()),
        "zero_predictor_mse_mean": float(zero_mse.mean()),
        "waves": len(mse),
    }


def zero_predictor_mse(waves, warmup):
    """Per-wave MSE of predicting 0 on the scored steps."""
    return waves.values[:, warmup + 1 :].double().pow(2).mean(dim=1)


def rollout_length(step, config):
    """Free-running steps at `step` (0-based): geometric growth from rollout_start to rollout_end,
    then rollout_final for the last rollout_final_fraction of the steps."""
    if step >= config["steps"] * (1 - config["rollout_final_fraction"]):
        return config["rollout_final"]
    start, end = config["rollout_start"], config["rollout_end"]
    growth_steps = max(1, round(config["rollout_growth_fraction"] * config["steps"]))
    progress = min(1.0, step / growth_steps)
    return round(start * (end / start) ** progress)


def feedback_probability(step, config):
    """The teaching example's schedule: the chance of feeding back the model's own output,
    raised by `feedback_increase` every `feedback_every` steps (from the first), up to `feedback_max`."""
    raised = config["feedback_start"] + config["feedback_increase"] * (step // config["feedback_every"] + 1)
    return min(raised, config["feedback_max"])


class WaveTask:
    """Fresh random waves each step, for `training.fit`.

    mode 'free_running': `teacher_steps` true inputs (one-step loss), then a rollout fed the
    model's own outputs, back-propagated through, whose length grows during training and ends
    long (rollout_final), so that the last steps see the drift that a 900-step free run shows.
    mode 'teacher_forcing': the teaching example: at each step each wave feeds back its own
    output with a rising probability, else the true value; the loss skips `loss_warmup` steps.
    """

    def __init__(self, config, seed, device):
        self.config = config
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)
        monitor_seed = torch.Generator().manual_seed(seed + 1)
        self.monitor = make_waves(MONITOR["count"], MONITOR["length"], monitor_seed, device)

    def state_dict(self):
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])

    def loss(self, model, step):
        if self.config["mode"] == "teacher_forcing":
            return self.teacher_forcing_loss(model, step)
        return self.free_running_loss(model, step)

    def free_running_loss(self, model, step):
        teacher = self.config["teacher_steps"]
        rollout = rollout_length(step, self.config)
        values = make_waves(self.config["batch_size"], teacher + rollout + 1, self.generator, self.device).values
        outputs, state = model(values[:, :teacher, None])
        predictions = torch.cat([outputs[..., 0], model.rollout(outputs[:, -1], state, rollout)], dim=1)
        return torch.nn.functional.mse_loss(predictions, values[:, 1:])

    def teacher_forcing_loss(self, model, step):
        length = self.config["sequence_length"]
        values = make_waves(self.config["batch_size"], length, self.generator, self.device).values
        feedback = feedback_probability(step, self.config)
        own = torch.rand(values.shape[0], length - 1, generator=self.generator).to(self.device) < feedback
        state, prediction, predictions = None, values[:, :1], []
        for t in range(length - 1):
            value = torch.where(own[:, t : t + 1], prediction, values[:, t : t + 1]) if t else values[:, :1]
            prediction, state = model.step(value, state)
            predictions.append(prediction)
        skip = self.config["loss_warmup"]
        return torch.nn.functional.mse_loss(torch.cat(predictions, dim=1)[:, skip:], values[:, 1 + skip :])

    def evaluate(self, model):
        """Mean protocol MSE on monitoring waves drawn from the training seed (not the validation set)."""
        model.eval()
        mse, _ = protocol_mse(model, self.monitor, MONITOR["warmup"])
        return float(mse.mean())

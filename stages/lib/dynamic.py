"""Dynamic evaluation (Krause et al., "Dynamic Evaluation of Neural Sequence Models", 2018):
the char-RNN scores a text segment by segment and, after scoring each one, takes a gradient
step on it, so that it adapts to the names and words the text repeats.

Order is the whole point: a segment is scored with the weights adapted on the segments before
it, and only then is it learnt from, so no character is ever scored by weights that have seen
it or any later text. One stream (batch 1) reads the text in order, its hidden state carried
from segment to segment and detached, as in truncated BPTT.

The "rms" rule is Krause et al.'s: each weight's step is its gradient divided by the root mean
square of its gradients over segments of the training split, and every step also pulls the
weights back toward the trained ones, weight by weight in proportion to that root mean square
(scaled so that the average weight decays at rate `decay`). "sgd" takes plain gradient steps
with a uniform decay.
"""

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from .models import detach_state
from .streams import char_nll

# A weight's RMS is at least this fraction of the mean RMS of its tensor. A character missing from
# the train characters the statistics read (rare ones like "&", or the unknown index) has an
# embedding row with no gradient there; unfloored, its first step would be thousands of times
# the others' and wreck the model (measured: a floor of 1e-3 of the mean over all weights let
# the first "&" of the test split raise the loss to 1.77 nats/char, against 1.34 static).
RMS_FLOOR = 0.1


@dataclass(frozen=True)
class Rule:
    """How the weights adapt after each scored segment."""

    method: str  # "rms" or "sgd"
    step: float  # step size; 0 scores statically
    decay: float  # fraction of the way back to the trained weights per segment
    segment: int  # characters scored between two steps


def segments(data, length):
    """(inputs, targets) of consecutive segments of `length` characters: each target the character after its input."""
    inputs, targets = data[:-1], data[1:]
    for start in range(0, len(inputs), length):
        yield inputs[start : start + length], targets[start : start + length]


def segment_loss(model, inputs, targets, state):
    """Per-character NLL [length] of `targets` given `inputs` (1-d index tensors) and the carried state."""
    logits, state = model(inputs[None], state)
    return char_nll(logits, targets[None])[0], state


def as_tensor(data, device):
    return torch.as_tensor(np.asarray(data, dtype=np.int64), device=device)


def gradient_rms(model, train, segment, chars, device):
    """Per weight, the root mean square of its gradient over the segments of the first `chars`
    characters of `train`, read in order as the test text is (the statistics of Krause et al.)."""
    data = as_tensor(train[: chars + 1], device)
    weights = list(model.parameters())
    squares = [torch.zeros_like(w) for w in weights]
    state, count = None, 0
    for inputs, targets in segments(data, segment):
        nll, state = segment_loss(model, inputs, targets, state)
        grads = torch.autograd.grad(nll.mean(), weights, allow_unused=True)
        for square, grad in zip(squares, grads):
            if grad is not None:
                square.addcmul_(grad, grad)
        state, count = detach_state(state), count + 1
    return [torch.sqrt(square / count) for square in squares]


def rule_from(section):
    """The Rule of a `dynamic_eval` params section."""
    return Rule(section["method"], section["step"], section["decay"], section["segment_len"])


def train_statistics(model, train, section, device):
    """What the rule needs from the train split: the gradients' RMS for "rms", nothing for "sgd"."""
    if section["method"] != "rms":
        return None
    return gradient_rms(model, train, section["segment_len"], section["gradient_chars"], device)


class Adapter:
    """The weight update of a Rule, applied in place after each segment (torch's foreach kernels:
    one call per operation for all the weights)."""

    def __init__(self, model, rule, rms=None):
        self.rule = rule
        self.weights = list(model.parameters())
        self.trained = [w.detach().clone() for w in self.weights]
        if rule.method == "rms":
            mean = torch.cat([r.reshape(-1) for r in rms]).mean()
            floored = [r.clamp_min(RMS_FLOOR * r.mean()) for r in rms]
            self.step_scales = [1 / r for r in floored]
            # Krause et al.: weights with larger gradients decay faster; no weight past the trained value in one step.
            self.decay_rates = [(rule.decay * r / mean).clamp_max(1.0) for r in floored]
        else:
            self.step_scales = None
            self.decay_rates = [torch.full_like(w, rule.decay) for w in self.weights]

    def update(self, loss):
        """One step on `loss` (the mean NLL of the segment just scored), then the decay toward the trained weights."""
        grads = [torch.zeros_like(w) if g is None else g for w, g in zip(self.weights, torch.autograd.grad(loss, self.weights, allow_unused=True))]
        with torch.no_grad():
            pull = None
            if self.rule.decay > 0:
                pull = torch._foreach_sub(self.trained, self.weights)
                torch._foreach_mul_(pull, self.decay_rates)
            if self.step_scales is None:
                torch._foreach_add_(self.weights, grads, alpha=-self.rule.step)
            else:
                torch._foreach_addcmul_(self.weights, grads, self.step_scales, value=-self.rule.step)
            if pull is not None:
                torch._foreach_add_(self.weights, pull)


def adaptive_nll(model, data, rule, device, rms=None, desc="dynamic eval"):
    """Per-character NLL (nats, float64) of data[1:] given data[:i], in text order, the model
    adapting after each segment by `rule` (in place: pass a copy to keep the trained weights).

    With `rule.step` 0 nothing changes and this is the static score of one stream read in order.
    """
    model.eval()  # float32 scoring, no dropout; gradients still flow
    data = as_tensor(data, device)
    adapter = Adapter(model, rule, rms) if rule.step > 0 else None
    scored, state = [], None
    total = -(-(len(data) - 1) // rule.segment)
    for inputs, targets in tqdm(segments(data, rule.segment), desc=desc, total=total, unit="segment", mininterval=1.0):
        with torch.set_grad_enabled(adapter is not None):
            nll, state = segment_loss(model, inputs, targets, state)
        scored.append(nll.detach())
        if adapter is not None:
            adapter.update(nll.mean())
        state = detach_state(state)
    return torch.cat(scored).double().cpu().numpy()

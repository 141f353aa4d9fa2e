"""Dynamic evaluation: static when the step is 0, never a look at text it has not scored yet, and it adapts."""

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stages.lib import dynamic, streams
from stages.lib.models import CharRNN

VOCAB = 11


def tiny_model(cell="lstm", seed=0):
    torch.manual_seed(seed)
    return CharRNN(VOCAB, cell, hidden_size=12, num_layers=2, embedding_dim=5, precision="bfloat16", skip_connections=True).eval()


def text(length, seed=0):
    return np.random.default_rng(seed).integers(0, VOCAB, length)


def train_rms(model, segment=16):
    return dynamic.gradient_rms(model, text(400, seed=9), segment, 300, torch.device("cpu"))


@pytest.mark.parametrize("cell", ["lstm", "gru", "qrnn"])
@pytest.mark.parametrize("segment", [1, 7, 64])
def test_a_step_of_zero_is_the_static_score_exactly(cell, segment):
    model, data = tiny_model(cell), text(301)
    static = streams.stream_nll(model, data, torch.device("cpu"), batch_size=1, window=segment)
    for method in ("rms", "sgd"):
        rule = dynamic.Rule(method, step=0.0, decay=0.5, segment=segment)
        adapted = dynamic.adaptive_nll(copy.deepcopy(model), data, rule, torch.device("cpu"), train_rms(model))
        assert adapted.shape == static.shape == (300,)
        assert np.array_equal(adapted, static)


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(2, 120),
    cut=st.integers(1, 119),
    segment=st.integers(1, 40),
    method=st.sampled_from(["rms", "sgd"]),
    step=st.sampled_from([1e-3, 0.1, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_no_character_is_scored_by_weights_that_saw_it_or_later_text(length, cut, segment, method, step, seed):
    """Change the text after position `cut`: every score of the segments before the one holding it stays the same."""
    cut = min(cut, length - 1)
    model = tiny_model()
    rms = [torch.ones_like(w) for w in model.parameters()]
    data = text(length, seed)
    changed = data.copy()
    changed[cut:] = (changed[cut:] + 1) % VOCAB
    rule = dynamic.Rule(method, step, decay=0.1, segment=segment)
    first = dynamic.adaptive_nll(copy.deepcopy(model), data, rule, torch.device("cpu"), rms)
    second = dynamic.adaptive_nll(copy.deepcopy(model), changed, rule, torch.device("cpu"), rms)
    unseen = (cut - 1) // segment * segment  # scores (of data[1:]) in the segments before the one whose inputs or targets changed
    assert np.array_equal(first[:unseen], second[:unseen])
    if cut - 1 < len(first):
        assert not np.array_equal(first[cut - 1 :], second[cut - 1 :]) or step == 0  # the changed text is scored


@pytest.mark.parametrize("method, step", [("rms", 1e-2), ("sgd", 3.0)])
def test_a_text_that_repeats_itself_is_learnt_as_it_is_read(method, step):
    model = tiny_model()
    data = np.tile(text(50, seed=3), 12)
    rule = dynamic.Rule(method, step, decay=0.0, segment=25)
    static = dynamic.adaptive_nll(copy.deepcopy(model), data, dynamic.Rule(method, 0.0, 0.0, 25), torch.device("cpu"))
    adapted = dynamic.adaptive_nll(copy.deepcopy(model), data, rule, torch.device("cpu"), train_rms(model, 25))
    np.testing.assert_allclose(adapted[:25], static[:25], rtol=1e-6)  # scored before any step (with autograd on: equal to rounding)
    assert adapted[-100:].mean() < static[-100:].mean() - 0.4  # 2.44 static, 1.86 and 1.85 adapted


def test_a_full_decay_pulls_back_to_the_trained_weights_before_each_step():
    model = tiny_model()
    trained = [w.detach().clone() for w in model.parameters()]
    rms = train_rms(model)
    adapter = dynamic.Adapter(model, dynamic.Rule("sgd", 0.1, decay=1.0, segment=8), rms)
    data = torch.as_tensor(text(17))
    for _ in range(2):  # the second update starts from adapted weights and must forget them
        nll, _ = dynamic.segment_loss(model, data[:-1], data[1:], None)
        grads = torch.autograd.grad(nll.mean(), list(model.parameters()), retain_graph=True)
        adapter.update(nll.mean())
    for weight, start, grad in zip(model.parameters(), trained, grads):
        torch.testing.assert_close(weight.detach(), start - 0.1 * grad)


def test_rms_steps_are_larger_where_train_gradients_are_small():
    model = tiny_model()
    rms = train_rms(model)
    adapter = dynamic.Adapter(model, dynamic.Rule("rms", 1e-3, decay=0.02, segment=8), rms)
    mean = torch.cat([r.reshape(-1) for r in rms]).mean()
    for scale, rate, r in zip(adapter.step_scales, adapter.decay_rates, rms):
        torch.testing.assert_close(scale, 1 / r.clamp_min(dynamic.RMS_FLOOR * r.mean()))
        assert (rate <= 1).all() and (rate >= 0).all()

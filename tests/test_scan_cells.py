"""The cells parallel over time (minGRU, QRNN, SRU) against step-by-step references written from the papers."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stages.lib.models import CharRNN
from stages.lib.scan_cells import SCAN_CELLS, ScanRNN, linear_scan

torch.set_num_threads(1)


def reference_scan(a, b, h0):
    """h_t = a_t * h_{t-1} + b_t, one time step at a time through autograd ([time, batch, hidden])."""
    h, outputs = h0, []
    for a_t, b_t in zip(a, b):
        h = a_t * h + b_t
        outputs.append(h)
    return torch.stack(outputs)


def reference_layer(cell, layer, inputs, h):
    """One layer of `cell`, step by step from its paper's equations, with the layer's own weights:
    batch-first outputs and the final state."""
    weight, bias, size = layer.projection.weight, layer.projection.bias, layer.hidden_size
    outputs = []
    for x in inputs.unbind(1):
        parts = [x @ weight[k * size : (k + 1) * size].t() + bias[k * size : (k + 1) * size] for k in range(weight.shape[0] // size)]
        if cell == "mingru":
            z, candidate = torch.sigmoid(parts[0]), parts[1]
            h = (1 - z) * h + z * candidate
            out = h
        elif cell == "qrnn":
            z, f, o = torch.tanh(parts[0]), torch.sigmoid(parts[1]), torch.sigmoid(parts[2])
            h = f * h + (1 - f) * z
            out = o * h
        else:  # sru
            candidate, f, r, skip = parts[0], torch.sigmoid(parts[1]), torch.sigmoid(parts[2]), parts[3]
            h = f * h + (1 - f) * candidate
            out = r * h + (1 - r) * skip
        outputs.append(out)
    return torch.stack(outputs, 1), h


def reference_rnn(cell, model, inputs, state):
    """ScanRNN's multi-layer forward, layer by layer and step by step."""
    outputs, final = inputs, []
    for layer, h0 in zip(model.layers, state.unbind(0)):
        outputs, h = reference_layer(cell, layer, outputs, h0)
        final.append(h)
    return outputs, torch.stack(final)


@settings(max_examples=40)
@given(
    steps=st.integers(1, 12), batch=st.integers(1, 4), hidden=st.integers(1, 5),
    seed=st.integers(0, 2**31 - 1), saturated=st.booleans(),
)
def test_the_scan_matches_the_step_by_step_recurrence_in_values_and_gradients(steps, batch, hidden, seed, saturated):
    generator = torch.Generator().manual_seed(seed)
    a = torch.rand(steps, batch, hidden, generator=generator, dtype=torch.float64)
    if saturated:  # gates at exactly 0 and 1, as sigmoid gives for large inputs
        a = a.round()
    b = torch.randn(steps, batch, hidden, generator=generator, dtype=torch.float64)
    h0 = torch.randn(batch, hidden, generator=generator, dtype=torch.float64)
    upstream = torch.randn(steps, batch, hidden, generator=generator, dtype=torch.float64)
    results = []
    for scan in (linear_scan, reference_scan):
        leaves = [x.clone().requires_grad_() for x in (a, b, h0)]
        outputs = scan(*leaves)
        (outputs * upstream).sum().backward()
        results.append([outputs.detach()] + [leaf.grad for leaf in leaves])
    for ours, expected in zip(*results):
        torch.testing.assert_close(ours, expected)


def test_the_scan_passes_gradcheck():
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(7, 3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    b = torch.randn(7, 3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(linear_scan, (a, b, h0))


@pytest.mark.parametrize("cell", SCAN_CELLS)
@pytest.mark.parametrize("input_size", [3, 6])  # 6: equal to the hidden size
def test_each_cell_matches_its_step_by_step_reference_in_outputs_state_and_gradients(cell, input_size):
    torch.manual_seed(1)
    model = ScanRNN(cell, input_size, 6, num_layers=2).double()
    inputs = torch.randn(3, 9, input_size, dtype=torch.float64)
    state = torch.randn(2, 3, 6, dtype=torch.float64)
    upstream = torch.randn(3, 9, 6, dtype=torch.float64)
    results = []
    for forward in (model, lambda x, s: reference_rnn(cell, model, x, s)):
        model.zero_grad()
        outputs, final = forward(inputs, state)
        ((outputs * upstream).sum() + final.sum()).backward()
        results.append([outputs.detach(), final.detach()] + [p.grad.clone() for p in model.parameters()])
    for ours, expected in zip(*results):
        torch.testing.assert_close(ours, expected)


@pytest.mark.parametrize("cell", SCAN_CELLS)
def test_a_scan_cell_generates_one_character_at_a_time_as_it_reads_a_window(cell):
    torch.manual_seed(2)
    model = CharRNN(8, cell, hidden_size=6, num_layers=2, embedding_dim=4, skip_connections=True).eval()
    text = torch.randint(0, 8, (2, 10))
    whole, whole_state = model(text)
    state, stepped = None, []
    for t in range(text.shape[1]):
        logits, state = model(text[:, t : t + 1], state)
        stepped.append(logits)
    torch.testing.assert_close(torch.cat(stepped, 1), whole)
    torch.testing.assert_close(state, whole_state)


def test_forget_gates_start_open_and_the_state_stays_float32_under_bfloat16():
    layer = ScanRNN("qrnn", 4, 5).layers[0]
    assert torch.equal(layer.projection.bias[5:10], torch.ones(5))
    model = CharRNN(8, "sru", hidden_size=6, num_layers=2, embedding_dim=4, precision="bfloat16", skip_connections=True)
    _, state = model(torch.randint(0, 8, (2, 5)))
    assert state.dtype == torch.float32

"""Recurrent cells whose matrix products take the whole window at once: minGRU, QRNN and SRU.

Each layer's gates depend on its input alone, so one matrix product computes them for every
time step of a window; what is left to run step by step is an element-wise linear recurrence,
h_t = a_t * h_{t-1} + b_t (`linear_scan`). The cells (their recurrences use no h_{t-1} inside
a gate, which is what makes them parallel over time):

- minGRU (Feng et al., 2024, "Were RNNs All We Needed?"): z = sigmoid(W_z x), h~ = W_h x,
  h_t = (1 - z) * h_{t-1} + z * h~. The layer's output is h.
- QRNN (Bradbury et al., 2017), fo-pooling with a window of one input: z = tanh(W_z x),
  f = sigmoid(W_f x), o = sigmoid(W_o x), c_t = f * c_{t-1} + (1 - f) * z, output o * c.
- SRU (Lei et al., 2018) without the element-wise c_{t-1} term in its gates (that term would
  make the recurrence non-linear): x~ = W x, f = sigmoid(W_f x + b_f), r = sigmoid(W_r x + b_r),
  c_t = f * c_{t-1} + (1 - f) * x~, output r * c + (1 - r) * W_s x, the highway. The paper's
  W_s is the identity when the input and hidden sizes are equal; with skip connections they
  never are, so W_s is always learned here.

The modules take nn.GRU's batch-first interface: (inputs [batch, time, input], state
[layers, batch, hidden] or None) -> (outputs [batch, time, hidden], state), so the char-RNN,
its sampler and the wave model use them as they use nn.GRU. Gates and recurrence run in
float32 under bfloat16 autocast; only the matrix products drop to bfloat16.
"""

import torch
from torch import nn


def scan_forward(a, b, h0):
    """h_1 .. h_T of h_t = a_t * h_{t-1} + b_t over dim 0 of a, b [time, batch, hidden]: one fused
    multiply-add per step (torch.addcmul into the output's own slice)."""
    outputs = torch.empty(b.shape, dtype=b.dtype, device=b.device)
    h = h0
    for t in range(b.shape[0]):
        h = torch.addcmul(b[t], a[t], h, out=outputs[t])
    return outputs


def scan_backward(a, grad):
    """delta_t = dL/dh_t, later steps included, for scan_forward's h and dL/dh_t = grad_t alone:
    the same recurrence run backwards, delta_t = grad_t + a_{t+1} * delta_{t+1}."""
    delta = torch.empty(grad.shape, dtype=grad.dtype, device=grad.device)
    delta[-1] = grad[-1]
    for t in range(grad.shape[0] - 2, -1, -1):
        torch.addcmul(grad[t], a[t + 1], delta[t + 1], out=delta[t])
    return delta


def shifted(h, h0):
    """h_{t-1} for t = 1 .. T: h0, then h_1 .. h_{T-1}."""
    previous = torch.empty_like(h)
    previous[0] = h0
    previous[1:] = h[:-1]
    return previous


class LinearScan(torch.autograd.Function):
    """h_t = a_t * h_{t-1} + b_t over dim 0 of a, b [time, batch, hidden], from h0 [batch, hidden].

    Forward and backward each walk the window once with one fused multiply-add per step
    (scan_forward, scan_backward); the gradients of a and b follow from delta in two
    whole-window operations. On the char-RNN's window this is faster than autograd through
    the same loop, and tens of times faster than the cumulative (log-space) and doubling
    formulations, whose whole-window passes are bound by memory (`python -m benchmarks.scan`,
    BENCHMARKS.md).
    """

    @staticmethod
    def forward(ctx, a, b, h0):
        outputs = scan_forward(a, b, h0)
        ctx.save_for_backward(a, outputs, h0)
        return outputs

    @staticmethod
    def backward(ctx, grad):
        a, outputs, h0 = ctx.saved_tensors
        delta = scan_backward(a, grad.contiguous())
        return delta * shifted(outputs, h0), delta, a[0] * delta[0]


def linear_scan(a, b, h0):
    """h_1 .. h_T [time, batch, hidden] of h_t = a_t * h_{t-1} + b_t (see LinearScan), time-major:
    each step's slice is contiguous, which the loop needs to be fast (benchmarks.scan)."""
    return LinearScan.apply(a, b, h0)


def min_gru(projected, h0, hidden):
    """minGRU's outputs and final state from projected [time, batch, 2 * hidden] = (W_z x, W_h x)."""
    gate, candidate = projected.split(hidden, dim=-1)
    z = torch.sigmoid(gate)
    h = linear_scan(1 - z, z * candidate, h0)
    return h, h[-1]


def qrnn(projected, h0, hidden):
    """QRNN fo-pooling's outputs o * c and final cell c from projected [time, batch, 3 * hidden]."""
    candidate, forget, output = projected.split(hidden, dim=-1)
    f = torch.sigmoid(forget)
    c = linear_scan(f, (1 - f) * torch.tanh(candidate), h0)
    return torch.sigmoid(output) * c, c[-1]


def sru(projected, h0, hidden):
    """SRU's highway outputs and final cell c from projected [time, batch, 4 * hidden] = (x~, f, r, W_s x)."""
    candidate, forget, reset, skip = projected.split(hidden, dim=-1)
    f, r = torch.sigmoid(forget), torch.sigmoid(reset)
    c = linear_scan(f, (1 - f) * candidate, h0)
    return torch.lerp(skip, c, r), c[-1]


# name: (recurrence, projected width in hidden sizes)
SCAN_CELLS = {"mingru": (min_gru, 2), "qrnn": (qrnn, 3), "sru": (sru, 4)}


class ScanLayer(nn.Module):
    """One layer of a scan cell: a linear map of the whole window, then the cell's recurrence."""

    def __init__(self, cell, input_size, hidden_size):
        super().__init__()
        self.recurrence, width = SCAN_CELLS[cell]
        self.hidden_size = hidden_size
        self.projection = nn.Linear(input_size, width * hidden_size)
        if cell in ("sru", "qrnn"):  # forget gates start near 1 - sigmoid(1) = 0.27 -> keep 0.73 of the cell
            with torch.no_grad():
                self.projection.bias[hidden_size : 2 * hidden_size].fill_(1.0)

    def forward(self, inputs, h0):
        """Time-major outputs [time, batch, hidden] and final state for time-major inputs."""
        projected = self.projection(inputs)
        projected = projected if projected.dtype == torch.float64 else projected.float()  # bfloat16 under autocast
        return self.recurrence(projected, h0.to(projected.dtype), self.hidden_size)


class ScanRNN(nn.Module):
    """A multi-layer scan cell with nn.GRU's batch-first interface (see the module docstring)."""

    def __init__(self, cell, input_size, hidden_size, num_layers=1, dropout=0.0, batch_first=True):
        super().__init__()
        if not batch_first:
            raise ValueError("ScanRNN is batch-first only")
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.layers = nn.ModuleList(
            ScanLayer(cell, input_size if layer == 0 else hidden_size, hidden_size) for layer in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, inputs, state=None):
        if state is None:
            state = inputs.new_zeros(self.num_layers, inputs.shape[0], self.hidden_size, dtype=torch.float32)
        outputs, final = inputs.transpose(0, 1), []  # time-major inside: see linear_scan
        for index, (layer, h0) in enumerate(zip(self.layers, state.unbind(0))):
            if index:
                outputs = self.dropout(outputs)
            outputs, last = layer(outputs, h0)
            final.append(last)
        return outputs.transpose(0, 1), torch.stack(final)

"""The recurrent models of both tasks, built from a cell name as in pytorch/examples' RNNModel."""

import torch
from torch import nn

from .io import read_output
from .scan_cells import SCAN_CELLS, ScanRNN

RECURRENT = {
    "rnn_tanh": lambda **kw: nn.RNN(nonlinearity="tanh", **kw),
    "rnn_relu": lambda **kw: nn.RNN(nonlinearity="relu", **kw),
    "lstm": nn.LSTM,
    "gru": nn.GRU,
    **{name: lambda name=name, **kw: ScanRNN(name, **kw) for name in SCAN_CELLS},
}
CHAR_CHECKPOINT = "data/charrnn.pt"
WAVE_CHECKPOINT = "data/wavernn.pt"
CELL_STEP = {"rnn_tanh": torch.rnn_tanh_cell, "rnn_relu": torch.rnn_relu_cell, "lstm": torch.lstm_cell, "gru": torch.gru_cell}


def recurrent_core(cell, input_size, hidden_size, num_layers, dropout=0.0):
    """A batch-first multi-layer nn.RNN / nn.LSTM / nn.GRU, or a ScanRNN of a scan cell (minGRU, QRNN, SRU)."""
    return RECURRENT[cell](
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        dropout=dropout if num_layers > 1 else 0.0,
        batch_first=True,
    )


def char_architecture(config, vocab_size):
    """CharRNN keyword arguments from train_charrnn's params: the top-level cell and sizes, the charrnn section."""
    section = config["charrnn"]
    return {
        "vocab_size": vocab_size,
        "cell": config["cell"],
        "hidden_size": config["hidden_size"],
        "num_layers": config["num_layers"],
        "embedding_dim": section["embedding_dim"],
        "dropout": section["dropout"],
        "precision": section["precision"],
        "skip_connections": section["skip_connections"],
    }


def wave_architecture(section):
    """WaveRNN keyword arguments from the wavernn params section."""
    keys = ("cell", "hidden_size", "num_layers", "predict_delta", "normalize_amplitude", "core_amplitude")
    return {key: section[key] for key in keys}


def detach_state(state):
    """Cut the graph behind a hidden state (a tensor, or an LSTM's (h, c) pair), keeping its value."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class CharRNN(nn.Module):
    """Character language model: one-hot or embedding input, recurrent core, linear decoder.

    With `skip_connections` (Graves, "Generating Sequences With Recurrent Neural Networks",
    2013) every layer also reads the input, and the decoder reads every layer's output; each
    layer is then its own one-layer fused nn.RNN / nn.LSTM / nn.GRU. The hidden state keeps
    the multi-layer module's layout ([layers, batch, hidden], a pair for the LSTM) either way.
    With precision "bfloat16" the forward pass of training (train mode) runs under autocast
    (matrix products and the LSTM kernels in bfloat16, weights and optimizer state in float32);
    in eval mode, where val and test are scored, it runs in float32. Logits come out float32.
    """

    def __init__(
        self, vocab_size, cell, hidden_size, num_layers, embedding_dim=0, dropout=0.0, precision="float32", skip_connections=False
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.precision = precision
        self.embedding = nn.Embedding(vocab_size, embedding_dim) if embedding_dim else None
        input_size = embedding_dim or vocab_size
        if skip_connections:
            self.rnn = None
            self.layers = nn.ModuleList(
                recurrent_core(cell, input_size + (layer > 0) * hidden_size, hidden_size, 1) for layer in range(num_layers)
            )
        else:
            self.rnn = recurrent_core(cell, input_size, hidden_size, num_layers, dropout)
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_size * (num_layers if skip_connections else 1), vocab_size)

    def forward(self, indices, state=None):
        """Logits [batch, time, vocab] for indices [batch, time], and the new hidden state."""
        bfloat16 = self.precision == "bfloat16" and self.training
        with torch.autocast(indices.device.type, dtype=torch.bfloat16, enabled=bfloat16):
            if self.embedding is None:
                inputs = nn.functional.one_hot(indices.long(), self.vocab_size).float()
            else:
                inputs = self.embedding(indices.long())
            inputs = self.dropout(inputs)
            if self.rnn is None:
                outputs, state = self.skip_layers(inputs, state)
            else:
                outputs, state = self.rnn(inputs, state)
            logits = self.decoder(self.dropout(outputs))
        return logits.float(), state

    def skip_layers(self, inputs, state):
        """The layers with skip connections: every layer's outputs, concatenated, and the new state."""
        layer_states = [None] * len(self.layers) if state is None else per_layer(state)
        outputs, new_states = [], []
        for layer, layer_state in zip(self.layers, layer_states):
            below = inputs if not outputs else torch.cat([inputs, self.dropout(outputs[-1])], dim=-1)
            output, layer_state = layer(below, layer_state)
            outputs.append(output)
            new_states.append(layer_state)
        return torch.cat(outputs, dim=-1), stack_layers(new_states)


def per_layer(state):
    """A multi-layer state ([layers, batch, hidden], or an LSTM's pair of them) as one one-layer state per layer."""
    if isinstance(state, tuple):
        return [tuple(part[layer : layer + 1] for part in state) for layer in range(state[0].shape[0])]
    return [state[layer : layer + 1] for layer in range(state.shape[0])]


def stack_layers(states):
    """The inverse of per_layer: one-layer states stacked into the multi-layer layout."""
    if isinstance(states[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*states))
    return torch.cat(states)


class GRUFreeRun(torch.autograd.Function):
    """A one-layer GRU fed its own outputs, each the input plus a linear readout of the state,
    with a hand-written backward pass: the training rollout of WaveRNN, about 1.5 times faster
    than autograd through one torch.gru_cell call per step (BENCHMARKS.md).

    apply(x0 [B, 1], h0 [B, H], w_ih [3H, 1], w_hh [3H, H], b_ih [3H], b_hh [3H], w_out [1, H],
    b_out [1], steps) -> x_1 .. x_steps [B, steps], where h_t = GRU(x_{t-1}, h_{t-1}) with
    PyTorch's gate order (r, z, n) and x_t = x_{t-1} + w_out h_t + b_out. The forward runs
    without autograd and keeps the gates; the backward walks them back in time, nine small
    operations a step (the gates' factors are formed for all steps at once beforehand), and
    forms the weight gradients as one matrix product over all steps.
    """

    @staticmethod
    def forward(ctx, x0, h0, w_ih, w_hh, b_ih, b_hh, w_out, b_out, steps):
        hidden = h0.shape[1]
        w_i, w_hh_t, w_o = w_ih[:, 0], w_hh.t(), w_out[0]
        x, h = x0[:, 0], h0
        xs, hs, rs, zs, ns, ghns = [x], [h], [], [], [], []
        for _ in range(steps):
            gi = torch.addcmul(b_ih, x[:, None], w_i)
            gh = torch.addmm(b_hh, h, w_hh_t)
            rz = torch.sigmoid(gi[:, : 2 * hidden] + gh[:, : 2 * hidden])
            r, z, ghn = rz[:, :hidden], rz[:, hidden:], gh[:, 2 * hidden :]
            n = torch.tanh(torch.addcmul(gi[:, 2 * hidden :], r, ghn))
            h = torch.addcmul(n, z, h - n)
            x = x + torch.mv(h, w_o) + b_out
            for store, value in ((xs, x), (hs, h), (rs, r), (zs, z), (ns, n), (ghns, ghn)):
                store.append(value)
        xs, hs = torch.stack(xs, 1), torch.stack(hs)  # x_0..x_T [B, T+1]; h_0..h_T [T+1, B, H]
        ctx.save_for_backward(xs, hs, torch.stack(rs), torch.stack(zs), torch.stack(ns), torch.stack(ghns), w_ih, w_hh, w_out)
        return xs[:, 1:]

    @staticmethod
    def backward(ctx, grad):
        xs, hs, rs, zs, ns, ghns, w_ih, w_hh, w_out = ctx.saved_tensors
        steps, batch, hidden = grad.shape[1], hs.shape[1], hs.shape[2]
        w_o = w_out[0]
        grad = grad.t().contiguous()  # one row per step
        # What multiplies dL/dh_{t+1} in each gate's pre-activation gradient, for every step at once.
        n_factor = (1 - zs) * (1 - ns * ns)
        z_factor = (hs[:-1] - ns) * zs * (1 - zs)
        r_factor = ghns * rs * (1 - rs)
        # Per step, one row block of (d_r, d_z, d_n * r, d_n): the first three are the hidden
        # gates' gradient, (d_r, d_z, d_n) the input gates'. Zero rows and columns in the padded
        # weights let one addmm and one addmv use the block whole.
        gates = grad.new_empty(steps, batch, 4 * hidden)
        w_hh_padded = torch.cat([w_hh, w_hh.new_zeros(hidden, hidden)])
        w_i = w_ih[:, 0]
        w_i_padded = torch.cat([w_i[: 2 * hidden], w_i.new_zeros(hidden), w_i[2 * hidden :]])
        d_outputs = grad.new_empty(steps, batch)
        dx, dh = torch.zeros_like(xs[:, 0]), torch.zeros_like(hs[0])  # dL/dx_t, dL/dh_t from later steps
        for t in range(steps - 1, -1, -1):
            d_output = torch.add(grad[t], dx, out=d_outputs[t])  # dL/dx_{t+1}
            dh = torch.addr(dh, d_output, w_o)  # dL/dh_{t+1}
            block = gates[t]
            d_n = torch.mul(dh, n_factor[t], out=block[:, 3 * hidden :])
            torch.mul(d_n, r_factor[t], out=block[:, :hidden])
            torch.mul(dh, z_factor[t], out=block[:, hidden : 2 * hidden])
            torch.mul(d_n, rs[t], out=block[:, 2 * hidden : 3 * hidden])
            dh = torch.addmm(dh * zs[t], block, w_hh_padded)
            dx = torch.addmv(d_output, block, w_i_padded)
        d_out = d_outputs.reshape(-1)  # [T*B], step-major like the rows below
        gates = gates.reshape(-1, 4 * hidden)
        d_input = torch.cat([gates[:, : 2 * hidden], gates[:, 3 * hidden :]], 1)
        d_hidden = gates[:, : 3 * hidden]
        d_w_ih = d_input.t() @ xs[:, :-1].t().reshape(-1, 1)
        d_w_hh = d_hidden.t() @ hs[:-1].reshape(-1, hidden)
        d_w_out = (d_out @ hs[1:].reshape(-1, hidden))[None, :]
        return dx[:, None], dh, d_w_ih, d_w_hh, d_input.sum(0), d_hidden.sum(0), d_w_out, d_out.sum()[None], None


class WaveRNN(nn.Module):
    """Next-value model of a 1-d signal: value -> recurrent core -> linear -> next value.

    With `predict_delta`, the output is the change of the value (prediction = input + linear(h)).
    With `normalize_amplitude`, a call without a state reads its inputs as a warm-up and takes
    their largest magnitude, per wave, as the wave's scale: the core sees the values divided by
    it and multiplied by `core_amplitude`, and the predictions are scaled back. A cosine's
    dynamics is the same at every amplitude, a GRU's is not; normalised, the core works at
    amplitude ~core_amplitude whatever the wave's. A small one keeps the core's tanh and
    sigmoids near their linear range, where they bend the wave's shape least (BENCHMARKS.md,
    "The wave model on every seed"). The scale travels in the state: (core state, scale [batch, 1]).
    `step()` advances one time step with the same weights, for free-running rollouts without
    the per-call overhead of the multi-step module.
    """

    def __init__(self, cell, hidden_size, num_layers, predict_delta=True, normalize_amplitude=False, core_amplitude=1.0):
        super().__init__()
        self.cell = cell
        self.predict_delta = predict_delta
        self.normalize_amplitude = normalize_amplitude
        self.core_amplitude = core_amplitude
        self.rnn = recurrent_core(cell, 1, hidden_size, num_layers)
        self.head = nn.Linear(hidden_size, 1)

    def readout(self, inputs, hidden):
        """The predicted next value from inputs and the top layer's hidden output."""
        out = self.head(hidden)
        return inputs + out if self.predict_delta else out

    def forward(self, inputs, state=None):
        """Predictions [batch, time, 1] for inputs [batch, time, 1], and the new state."""
        if not self.normalize_amplitude:
            outputs, state = self.rnn(inputs, state)
            return self.readout(inputs, outputs), state
        if state is None:
            core_state, scale = None, inputs.detach().abs().amax(dim=1).clamp_min(1e-6) / self.core_amplitude
        else:
            core_state, scale = state
        normalized = inputs / scale[:, None]
        outputs, core_state = self.rnn(normalized, core_state)
        return self.readout(normalized, outputs) * scale[:, None], (core_state, scale)

    def step(self, value, state):
        """One time step: value [batch, 1] and a state (None: zeros) -> (prediction [batch, 1], state)."""
        if not self.normalize_amplitude:
            return self.core_step(value, state)
        if state is None:
            raise ValueError("normalize_amplitude: call the model on a warm-up before step()")
        core_state, scale = state
        prediction, core_state = self.core_step(value / scale, core_state)
        return prediction * scale, (core_state, scale)

    def rollout(self, prediction, state, steps):
        """`steps` predictions [batch, steps], each fed back as the next input, after `prediction`
        [batch, 1] and `state` (from a warm-up call). A one-layer GRU with predict_delta takes
        GRUFreeRun; other models step()."""
        if self.cell == "gru" and self.rnn.num_layers == 1 and self.predict_delta:
            core_state, scale = state if self.normalize_amplitude else (state, None)
            x0 = prediction if scale is None else prediction / scale
            outputs = GRUFreeRun.apply(x0, core_state[0], *self.rnn.all_weights[0], self.head.weight, self.head.bias, steps)
            return outputs if scale is None else outputs * scale
        predictions = []
        for _ in range(steps):
            prediction, state = self.step(prediction, state)
            predictions.append(prediction)
        return torch.cat(predictions, dim=1)

    def core_step(self, value, state):
        """step() of the recurrent core and head, on values as the core sees them."""
        if self.cell in SCAN_CELLS:  # a window of one step: the scan's per-call cost is small
            outputs, state = self.rnn(value[:, None, :], state)
            return self.readout(value, outputs[:, 0]), state
        step_fn = CELL_STEP[self.cell]
        lstm = self.cell == "lstm"
        if state is None:
            zeros = value.new_zeros(self.rnn.num_layers, value.shape[0], self.rnn.hidden_size)
            state = (zeros, zeros) if lstm else zeros
        x = value
        if lstm:
            new_h, new_c = [], []
            for weights, h, c in zip(self.rnn.all_weights, state[0].unbind(0), state[1].unbind(0)):
                x, c = step_fn(x, (h, c), *weights)
                new_h.append(x)
                new_c.append(c)
            state = (torch.stack(new_h), torch.stack(new_c))
        else:
            new_h = []
            for weights, h in zip(self.rnn.all_weights, state.unbind(0)):
                x = step_fn(x, h, *weights)
                new_h.append(x)
            state = torch.stack(new_h)
        return self.readout(value, x), state


def sample_next(logits, temperature, top_k, generator):
    """Draw an index from `logits` [vocab] softened by `temperature` (0 = greedy), among the `top_k` best (0 = all)."""
    if temperature == 0:
        return int(torch.argmax(logits))
    logits = logits.double()
    logits = (logits - logits.max()) / temperature  # <= 0: no overflow, however small the temperature
    if 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return int(torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator))


def load_model(path, model_class, stage):
    """A `model_class` saved by `stage` as {"architecture", "model"}, in eval mode on the CPU."""
    payload = read_output(path, lambda p: torch.load(p, map_location="cpu", weights_only=True), stage)
    model = model_class(**payload["architecture"])
    model.load_state_dict(payload["model"])
    return model.eval()

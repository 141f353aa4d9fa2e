"""The recurrent models of both tasks, built from a cell name as in pytorch/examples' RNNModel."""

import torch
from torch import nn

from .io import read_output

RECURRENT = {
    "rnn_tanh": lambda **kw: nn.RNN(nonlinearity="tanh", **kw),
    "rnn_relu": lambda **kw: nn.RNN(nonlinearity="relu", **kw),
    "lstm": nn.LSTM,
    "gru": nn.GRU,
}
CHAR_CHECKPOINT = "data/charrnn.pt"
WAVE_CHECKPOINT = "data/wavernn.pt"
CELL_STEP = {"rnn_tanh": torch.rnn_tanh_cell, "rnn_relu": torch.rnn_relu_cell, "lstm": torch.lstm_cell, "gru": torch.gru_cell}


def recurrent_core(cell, input_size, hidden_size, num_layers, dropout=0.0):
    """A batch-first multi-layer nn.RNN / nn.LSTM / nn.GRU."""
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
    }


def wave_architecture(section):
    """WaveRNN keyword arguments from the wavernn params section."""
    return {key: section[key] for key in ("cell", "hidden_size", "num_layers", "predict_delta", "normalize_amplitude")}


def detach_state(state):
    """Cut the graph behind a hidden state (a tensor, or an LSTM's (h, c) pair), keeping its value."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class CharRNN(nn.Module):
    """Character language model: one-hot or embedding input, recurrent core, linear decoder.

    With precision "bfloat16" the forward pass runs under autocast (matrix products and the
    LSTM kernels in bfloat16, weights and optimizer state in float32); logits come out float32.
    """

    def __init__(self, vocab_size, cell, hidden_size, num_layers, embedding_dim=0, dropout=0.0, precision="float32"):
        super().__init__()
        self.vocab_size = vocab_size
        self.precision = precision
        self.embedding = nn.Embedding(vocab_size, embedding_dim) if embedding_dim else None
        self.rnn = recurrent_core(cell, embedding_dim or vocab_size, hidden_size, num_layers, dropout)
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def forward(self, indices, state=None):
        """Logits [batch, time, vocab] for indices [batch, time], and the new hidden state."""
        bfloat16 = self.precision == "bfloat16"
        with torch.autocast(indices.device.type, dtype=torch.bfloat16, enabled=bfloat16):
            if self.embedding is None:
                inputs = nn.functional.one_hot(indices.long(), self.vocab_size).float()
            else:
                inputs = self.embedding(indices.long())
            outputs, state = self.rnn(self.dropout(inputs), state)
            logits = self.decoder(self.dropout(outputs))
        return logits.float(), state


class WaveRNN(nn.Module):
    """Next-value model of a 1-d signal: value -> recurrent core -> linear -> next value.

    With `predict_delta`, the output is the change of the value (prediction = input + linear(h)).
    With `normalize_amplitude`, a call without a state reads its inputs as a warm-up and takes
    their largest magnitude, per wave, as the wave's scale: the core sees the values divided by
    it and the predictions are multiplied back. A cosine's dynamics is the same at every
    amplitude, a GRU's is not; normalised, the core works at amplitude ~1 whatever the wave's.
    The scale travels in the state: (core state, scale [batch, 1]).
    `step()` advances one time step with the same weights, for free-running rollouts without
    the per-call overhead of the multi-step module.
    """

    def __init__(self, cell, hidden_size, num_layers, predict_delta=True, normalize_amplitude=False):
        super().__init__()
        self.cell = cell
        self.predict_delta = predict_delta
        self.normalize_amplitude = normalize_amplitude
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
            core_state, scale = None, inputs.detach().abs().amax(dim=1).clamp_min(1e-6)
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

    def core_step(self, value, state):
        """step() of the recurrent core and head, on values as the core sees them."""
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
    logits = logits.double() / temperature
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

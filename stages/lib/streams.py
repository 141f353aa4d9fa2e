"""Encoded text as parallel streams for the char-RNN: the training task with truncated BPTT, and scoring held-out text."""

import numpy as np
import torch

from .cli import UserError
from .models import detach_state

EVAL_BATCH = 64  # parallel streams when scoring the monitor slice during training
EVAL_WINDOW = 512
SCORING_WINDOW = 64  # the final val and test scores: one stream in windows of dynamic_eval's default segment


def char_nll(logits, targets):
    """Per-character NLL [batch, time] of targets [batch, time] under logits [batch, time, vocab]; -100 marks padding."""
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none").view(targets.shape)


def stream_nll(model, data, device, batch_size=EVAL_BATCH, window=EVAL_WINDOW):
    """Per-character negative log-likelihood (nats) of data[1:] given data[:i], in text order.

    The text is cut into `batch_size` contiguous streams (the last padded and masked) that the
    model reads in windows of `window` characters, its hidden state carried across windows.
    """
    model.eval()
    data = torch.as_tensor(np.asarray(data, dtype=np.int64))
    count = len(data) - 1
    length = -(-count // batch_size)
    inputs = torch.zeros(batch_size * length, dtype=torch.long)
    targets = torch.full((batch_size * length,), -100, dtype=torch.long)
    inputs[:count], targets[:count] = data[:-1], data[1:]
    inputs, targets = inputs.view(batch_size, length).to(device), targets.view(batch_size, length).to(device)
    nll, state = [], None
    with torch.no_grad():
        for start in range(0, length, window):
            logits, state = model(inputs[:, start : start + window], state)
            nll.append(char_nll(logits, targets[:, start : start + window]))
    return torch.cat(nll, dim=1).reshape(-1)[:count].double().cpu().numpy()


class TextStreamTask:
    """Batched truncated BPTT over the train array, for `training.fit`.

    The array is cut into `batch_size` parallel streams read in consecutive windows of
    `seq_len` characters, the hidden state carried from window to window and detached. Each
    pass over the data starts at a fresh random offset with a zeroed state.
    """

    def __init__(self, train, val, config, seed, device):
        self.config = config
        self.device = device
        batch, self.seq_len = config["batch_size"], config["seq_len"]
        columns = len(train) // batch
        if columns < 2 * self.seq_len + 1:
            raise UserError(
                f"the train split ({len(train)} characters) is too short for charrnn.batch_size={batch} "
                f"and charrnn.seq_len={self.seq_len}"
            )
        stream = torch.as_tensor(np.asarray(train[: batch * columns], dtype=np.int64))
        self.streams = stream.view(batch, columns).to(device)
        self.monitor = np.asarray(val[: config["eval_chars"] + 1])
        self.generator = torch.Generator().manual_seed(seed)
        self.position = self.streams.shape[1]  # forces a new pass at the first step
        self.state = None

    def state_dict(self):
        return {"generator": self.generator.get_state(), "position": self.position, "state": self.state}

    def load_state_dict(self, saved):
        self.generator.set_state(saved["generator"])
        self.position = saved["position"]
        state = saved["state"]
        if isinstance(state, tuple):
            state = tuple(s.to(self.device) for s in state)
        elif state is not None:
            state = state.to(self.device)
        self.state = state

    def next_window(self):
        """Inputs and targets [batch, seq_len] of the next window."""
        if self.position + self.seq_len + 1 > self.streams.shape[1]:
            self.position = int(torch.randint(self.seq_len, (1,), generator=self.generator))
            self.state = None
        start = self.position
        self.position += self.seq_len
        window = self.streams[:, start : start + self.seq_len + 1]
        return window[:, :-1], window[:, 1:]

    def loss(self, model, step):
        inputs, targets = self.next_window()
        logits, state = model(inputs, self.state)
        self.state = detach_state(state)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def evaluate(self, model):
        """Mean val loss (nats/char) on the first `eval_chars` characters of the val split."""
        return float(stream_nll(model, self.monitor, self.device).mean())

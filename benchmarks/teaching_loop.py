"""The teaching example's char-RNN recipe (UW RNN lab, `../shared/seeds/000_…`), for the benchmarks.

Its model is expressible through params (SEED_MODEL); its loop is not the project's trainer, so
it lives here: batch 1, windows of 50 characters, the hidden state carried across windows,
Adam 1e-3 at a constant rate, no clipping, and one `loss.item()` per step. Each pass over the
text starts at a random offset below 100 with a fresh hidden state.
"""

import time

import numpy as np
import torch

from benchmarks import recipes
from stages.lib import training
from stages.lib.models import CharRNN, char_architecture, detach_state

SEED_MODEL = {
    "cell": "rnn_relu", "hidden_size": 512, "num_layers": 3, "embedding_dim": 100, "precision": "float32", "skip_connections": False,
}
SEED_WINDOW = 50
SEED_LR = 1e-3


def teaching_model(vocab_size):
    """The teaching example's model, built from params.yaml with SEED_MODEL's overrides and seeded from `charrnn.seed`."""
    config, section = recipes.configure("char", SEED_MODEL)
    training.seed_everything(section["seed"])
    return CharRNN(**char_architecture(config, vocab_size))


def train_teaching_loop(model, train, steps, seed=25):
    """Train `model` for `steps` windows as the teaching loop does; return (losses, chars per second)."""
    rng = np.random.default_rng(seed)
    data = torch.as_tensor(np.asarray(train, dtype=np.int64))[None]  # [1, characters]: batch 1
    optimizer = torch.optim.Adam(model.parameters(), lr=SEED_LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    losses, hidden, position = [], None, data.shape[1]
    began = time.perf_counter()
    for _ in range(steps):
        if position + SEED_WINDOW + 1 >= data.shape[1]:
            position, hidden = int(rng.integers(100)), None
        inputs = data[:, position : position + SEED_WINDOW]
        targets = data[:, position + 1 : position + SEED_WINDOW + 1]
        output, hidden = model(inputs, hidden)
        hidden = detach_state(hidden)
        loss = loss_fn(output.squeeze(0), targets.squeeze(0))
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        position += SEED_WINDOW
    return losses, steps * SEED_WINDOW / (time.perf_counter() - began)

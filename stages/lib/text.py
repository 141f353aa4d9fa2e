"""Characters as integers: the vocabulary, encoding, and the smoothed character n-gram baseline."""

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import io
from .cli import UserError
from .models import detach_state

UNKNOWN = "<unk>"
UNKNOWN_INDEX = 0

VOCAB_FILE = "data/vocab.json"
TRAIN_FILE = "data/train.npy"
VAL_FILE = "data/val.npy"
NGRAM_VAL_LOGPROB_FILE = "data/ngram_val_logprob.npy"  # log p of val[1:], per character
CHARRNN_VAL_NLL_FILE = "data/charrnn_val_nll.npy"  # -log p of val[1:], per character
EVAL_BATCH = 64  # parallel streams when scoring held-out text
EVAL_WINDOW = 512


@dataclass(frozen=True)
class Vocab:
    """A sorted character set with a reserved index (0) for characters never seen in training."""

    chars: tuple

    @classmethod
    def from_text(cls, text):
        """The vocabulary of `text`: its sorted characters after the unknown slot."""
        return cls(tuple(sorted(set(text))))

    @classmethod
    def from_json(cls, data):
        """Rebuild from `to_json()` output."""
        return cls(tuple(data["chars"]))

    def to_json(self):
        """A JSON-ready description: the characters by index."""
        return {"size": len(self), "unknown_index": UNKNOWN_INDEX, "chars": list(self.chars)}

    def __len__(self):
        return len(self.chars) + 1

    @property
    def dtype(self):
        """The smallest unsigned integer type that holds every index."""
        return np.min_scalar_type(len(self) - 1)

    def encode(self, text):
        """Indices of `text`; characters outside the vocabulary map to UNKNOWN_INDEX."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        known = np.frombuffer("".join(self.chars).encode("utf-32-le"), dtype=np.uint32)
        order = np.argsort(known)
        found = np.searchsorted(known, codes, sorter=order).clip(max=len(known) - 1)
        hit = known[order[found]] == codes
        return np.where(hit, order[found] + 1, UNKNOWN_INDEX).astype(self.dtype)

    def decode(self, indices):
        """Text of `indices`; the unknown index reads as U+FFFD."""
        table = ("\ufffd",) + self.chars
        return "".join(table[i] for i in np.asarray(indices).tolist())

    def unknown_chars(self, text):
        """The sorted characters of `text` that the vocabulary lacks."""
        return sorted(set(text) - set(self.chars))


def load_encoded():
    """The vocabulary and the encoded train and val arrays written by the `vocab` stage."""
    vocab = Vocab.from_json(io.read_output(VOCAB_FILE, io.read_json, "vocab"))
    return vocab, io.read_output(TRAIN_FILE, np.load, "vocab"), io.read_output(VAL_FILE, np.load, "vocab")


def split(text, val_fraction):
    """Split by position: the first part trains, the last `val_fraction` validates."""
    cut = len(text) - int(round(len(text) * val_fraction))
    return text[:cut], text[cut:]


def ngram_keys(data, order, base):
    """Integer key of every `order`-gram of `data` (position i covers data[i:i+order])."""
    count = len(data) - order + 1
    keys = np.zeros(max(count, 0), dtype=np.int64)
    for k in range(order):
        keys = keys * base + data[k : k + count]
    return keys


@dataclass
class OrderTable:
    """Counts of one order: sorted n-gram keys and counts, and per-history totals and discounts."""

    keys: np.ndarray
    counts: np.ndarray
    history_keys: np.ndarray
    history_totals: np.ndarray
    history_backoff: np.ndarray  # the discounted mass, D1*N1 + D2*N2 + D3*N3+, per history
    discounts: np.ndarray  # D(c) for c = 0, 1, 2, 3+

    @classmethod
    def build(cls, keys, counts, base):
        """Tables from sorted unique keys and their (raw or continuation) counts."""
        discounts = modified_kn_discounts(counts)
        history = keys // base
        history_keys, first = np.unique(history, return_index=True)
        totals = np.add.reduceat(counts, first)
        mass = discounts[np.minimum(counts, 3)]
        backoff = np.add.reduceat(mass, first)
        return cls(keys, counts, history_keys, totals, backoff, discounts)


def lookup(keys, table_keys, values):
    """values[i] where keys match table_keys[i] (sorted), 0 where a key is absent."""
    if len(table_keys) == 0:
        return np.zeros(len(keys), dtype=np.float64)
    at = np.searchsorted(table_keys, keys).clip(max=len(table_keys) - 1)
    return np.where(table_keys[at] == keys, values[at], 0).astype(np.float64)


def modified_kn_discounts(counts):
    """Chen & Goodman's discounts D(c) for c = 0, 1, 2, 3+, from the counts of counts."""
    n = [np.count_nonzero(counts == c) for c in (1, 2, 3, 4)]
    if min(n) == 0:
        return np.array([0.0, 0.5, 1.0, 1.5])  # too little data to estimate: fixed discounts
    y = n[0] / (n[0] + 2 * n[1])
    return np.array([0.0, 1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]])


class KneserNey:
    """Interpolated modified Kneser-Ney character model of order `max_order` over `vocab_size` symbols.

    The highest order uses raw counts, lower orders continuation counts (how many distinct
    characters precede an n-gram), and the recursion ends in the uniform distribution, so every
    character, seen or not, after any history, gets a probability.
    """

    def __init__(self, train, vocab_size, max_order):
        if vocab_size**max_order >= 2**62:
            raise UserError(
                f"ngram.max_order: {max_order} is too high for a vocabulary of {vocab_size} symbols "
                "(n-gram keys would overflow 64 bits); lower it"
            )
        self.base = vocab_size
        self.max_order = max_order
        data = np.asarray(train, dtype=np.int64)
        self.raw = {}
        self.continuation = {}
        previous_keys = None
        for order in range(max_order, 0, -1):
            keys, counts = np.unique(ngram_keys(data, order, self.base), return_counts=True)
            self.raw[order] = OrderTable.build(keys, counts, self.base)
            if previous_keys is not None:
                suffix_keys, suffix_counts = np.unique(previous_keys % self.base**order, return_counts=True)
                self.continuation[order] = OrderTable.build(suffix_keys, suffix_counts, self.base)
            previous_keys = keys

    def table(self, order, top):
        """The counts used at `order` in a model whose highest order is `top`."""
        return self.raw[order] if order == top else self.continuation[order]

    def probabilities(self, histories, targets, available, top):
        """P(target | history) for a model of order `top`.

        `histories[:, j]` is the j-th character before the target (j = 0 nearest); `available`
        says how many history characters each row really has (shorter ones back off).
        """
        prob = np.full(len(targets), 1.0 / self.base)
        history_key = np.zeros(len(targets), dtype=np.int64)
        for order in range(1, top + 1):
            if order > 1:
                history_key = history_key + histories[:, order - 2] * self.base ** (order - 2)
            table = self.table(order, top)
            key = history_key * self.base + targets
            count = lookup(key, table.keys, table.counts)
            total = lookup(history_key, table.history_keys, table.history_totals)
            backoff = lookup(history_key, table.history_keys, table.history_backoff)
            discounted = np.maximum(count - table.discounts[np.minimum(count, 3).astype(int)], 0)
            seen = (total > 0) & (available >= order - 1)
            safe_total = np.where(seen, total, 1.0)
            prob = np.where(seen, discounted / safe_total + backoff / safe_total * prob, prob)
        return prob

    def log_probs(self, data, order=None):
        """Natural log-probability of data[i] given data[:i], for i = 1 .. len(data) - 1."""
        top = order or self.max_order
        data = np.asarray(data, dtype=np.int64)
        positions = np.arange(1, len(data))
        offsets = np.arange(1, max(top, 2))
        back = positions[:, None] - offsets[None, :]
        histories = data[back.clip(min=0)]
        available = np.minimum(positions, top - 1)
        return np.log(self.probabilities(histories, data[positions], available, top))

    def next_distribution(self, history, order=None):
        """P(c | history) for every symbol c; `history` is a sequence of indices, oldest first."""
        top = order or self.max_order
        recent = np.asarray(history, dtype=np.int64)[::-1][: top - 1]
        histories = np.zeros((self.base, max(top - 1, 1)), dtype=np.int64)
        histories[:, : len(recent)] = recent
        available = np.full(self.base, len(recent))
        return self.probabilities(histories, np.arange(self.base), available, top)

    def unseen_fraction(self, data, order):
        """Share of data's `order`-grams never seen in training: where the unsmoothed model gives 0."""
        keys = ngram_keys(np.asarray(data, dtype=np.int64), order, self.base)
        table = self.raw[order]
        return float(np.mean(lookup(keys, table.keys, table.counts) == 0))


def nats_to_bits(nats):
    """Convert a loss in nats per character to bits per character."""
    return nats / math.log(2)


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
            nll.append(
                torch.nn.functional.cross_entropy(
                    logits.transpose(1, 2), targets[:, start : start + window], reduction="none"
                )
            )
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


def fit_mix_weight(rnn_logprob, ngram_logprob, iterations=200):
    """The weight w maximising mean log(w p_rnn + (1 - w) p_ngram), by EM."""
    weight = 0.5
    for _ in range(iterations):
        rnn = weight * np.exp(rnn_logprob)
        share = rnn / (rnn + (1 - weight) * np.exp(ngram_logprob))
        weight = float(share.mean())
    return weight


def mixed_nll(rnn_logprob, ngram_logprob, weight):
    """Mean negative log-likelihood of the interpolation w p_rnn + (1 - w) p_ngram."""
    return float(-np.logaddexp(np.log(weight) + rnn_logprob, np.log1p(-weight) + ngram_logprob).mean())

"""Characters as integers: the vocabulary, the train/val/test split, the encoded data files, and their units."""

import math
from dataclasses import dataclass

import numpy as np

from . import io

UNKNOWN = "<unk>"
UNKNOWN_INDEX = 0

VOCAB_FILE = "data/vocab.json"
TRAIN_FILE = "data/train.npy"
VAL_FILE = "data/val.npy"
TEST_FILE = "data/test.npy"
SPLIT_FILES = {"train": TRAIN_FILE, "val": VAL_FILE, "test": TEST_FILE}
# Per character, for `mix`: log p (n-gram) and -log p (char-RNN, static and adapting) of each split's characters after the first.
NGRAM_LOGPROB_FILES = {"val": "data/ngram_val_logprob.npy", "test": "data/ngram_test_logprob.npy"}
CACHE_LOGPROB_FILES = {"val": "data/cache_val_logprob.npy", "test": "data/cache_test_logprob.npy"}  # the n-gram of the text read so far
CHARRNN_NLL_FILES = {"val": "data/charrnn_val_nll.npy", "test": "data/charrnn_test_nll.npy"}
DYNAMIC_NLL_FILES = {"val": "data/dynamic_val_nll.npy", "test": "data/dynamic_test_nll.npy"}


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


def load_vocab():
    """The vocabulary written by the `vocab` stage."""
    return Vocab.from_json(io.read_output(VOCAB_FILE, io.read_json, "vocab"))


def load_split(name):
    """One encoded split ("train", "val" or "test") written by the `vocab` stage."""
    return io.read_output(SPLIT_FILES[name], np.load, "vocab")


def load_encoded():
    """The vocabulary and the encoded train and val arrays: what recipes are trained and chosen on."""
    return load_vocab(), load_split("train"), load_split("val")


def split(text, val_fraction, test_fraction):
    """Split by position: the first `test_fraction` tests, the last `val_fraction` validates, train is between.

    The test text is the corpus's opening, which no recipe was ever chosen on: the val splits of
    earlier layouts (the last 10 %, then the 5 % before the last 5 %) all lie at the end.
    """
    test_end = int(round(len(text) * test_fraction))
    val_start = len(text) - int(round(len(text) * val_fraction))
    return text[test_end:val_start], text[val_start:], text[:test_end]


def nats_to_bits(nats):
    """Convert a loss in nats per character to bits per character."""
    return nats / math.log(2)

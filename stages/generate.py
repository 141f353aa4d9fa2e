"""Stage `generate`: sample text from the char-RNN and, beside it, from the n-gram baseline."""

import logging

import numpy as np
import torch

from stages.lib import cli, io, ngram, params, text
from stages.lib.models import CHAR_CHECKPOINT, CharRNN, load_model, sample_next

log = logging.getLogger(__name__)

SAMPLES = {"charrnn": "samples/charrnn.txt", "ngram": "samples/ngram.txt"}


def encode_prime(vocab, prime):
    """The prime as indices; characters the vocabulary lacks become the unknown index, with a warning."""
    missing = vocab.unknown_chars(prime)
    if missing:
        log.warning("prime characters not in the vocabulary, read as %s: %r", text.UNKNOWN, "".join(missing))
    return vocab.encode(prime)


def sample_rnn(model, prime, config):
    """`length` indices drawn from the char-RNN after reading `prime`."""
    generator = torch.Generator().manual_seed(config["seed"])
    logits, state = model(torch.as_tensor(prime, dtype=torch.long)[None, :])
    drawn = []
    for _ in range(config["length"]):
        index = sample_next(logits[0, -1], config["temperature"], config["top_k"], generator)
        drawn.append(index)
        logits, state = model(torch.tensor([[index]]), state)
    return drawn


def sample_ngram(model, prime, config):
    """`length` indices drawn from the n-gram model after `prime`, with the same temperature and top-k."""
    generator = torch.Generator().manual_seed(config["seed"])
    history = list(prime)
    for _ in range(config["length"]):
        logits = torch.from_numpy(np.log(model.next_distribution(history[-model.max_order :])))
        history.append(sample_next(logits, config["temperature"], config["top_k"], generator))
    return history[len(prime) :]


def main():
    config = params.load("generate")
    settings = config["generate"]
    vocab, train, _ = text.load_encoded()
    prime = encode_prime(vocab, settings["prime"] or "\n")
    with torch.no_grad():
        rnn_sample = sample_rnn(load_model(CHAR_CHECKPOINT, CharRNN, "train_charrnn"), prime, settings)
    ngram_model = ngram.KneserNey(train, len(vocab), config["ngram"]["max_order"])
    ngram_sample = sample_ngram(ngram_model, prime, settings)
    for name, drawn in (("charrnn", rnn_sample), ("ngram", ngram_sample)):
        io.write_text(SAMPLES[name], settings["prime"] + vocab.decode(drawn) + "\n")
        log.info("wrote %s", SAMPLES[name])


if __name__ == "__main__":
    cli.run(main)

"""Stage `generate`: sample text from the char-RNN and, beside it, from the n-gram baseline.

    python -m stages.generate                      # the stage: samples/ from params.yaml's `generate`
    python -m stages.generate --prime "HAMLET:" --length 300 --temperature 0.5 [--top-k K] [--seed S]

With any option it is a sampler to play with: it loads the trained char-RNN (on CUDA when there
is one), prints its text and writes nothing; options not given come from params.yaml.
"""

import argparse
import logging
import sys

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
    """`length` indices drawn from the char-RNN (on its device) after reading `prime`."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(config["seed"])
    logits, state = model(torch.as_tensor(prime, dtype=torch.long, device=device)[None, :])
    drawn = []
    for _ in range(config["length"]):
        if not torch.isfinite(logits[0, -1]).all():
            raise cli.UserError(
                f"the char-RNN's outputs became NaN or infinite after {len(drawn)} sampled characters: its training "
                "diverged; lower the learning rate ('charrnn.lr') and rerun train_charrnn"
            )
        index = sample_next(logits[0, -1].cpu(), config["temperature"], config["top_k"], generator)
        drawn.append(index)
        logits, state = model(torch.tensor([[index]], device=device), state)
    return drawn


def sample_ngram(model, prime, config):
    """`length` indices drawn from the n-gram model after `prime`, with the same temperature and top-k."""
    generator = torch.Generator().manual_seed(config["seed"])
    history = list(prime)
    for _ in range(config["length"]):
        logits = torch.from_numpy(np.log(model.next_distribution(history[-model.max_order :])))
        history.append(sample_next(logits, config["temperature"], config["top_k"], generator))
    return history[len(prime) :]


def parse_options(argv):
    """The sampler's options; all None when the stage runs without any."""
    parser = argparse.ArgumentParser(prog="python -m stages.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--prime", help="text the model reads first")
    parser.add_argument("--length", type=int, help="characters to draw")
    parser.add_argument("--temperature", type=float, help="0 = greedy")
    parser.add_argument("--top-k", type=int, dest="top_k", help="draw among the k likeliest (0 = all)")
    parser.add_argument("--seed", type=int)
    return parser.parse_args(argv)


def play(options):
    """Sample the trained char-RNN with the given options (params.yaml's `generate` for the rest) and print it."""
    settings = dict(params.load("generate")["generate"])
    for key, value in vars(options).items():
        if value is not None:
            settings[key] = params.SCHEMA["generate"][key].check(f"--{key.replace('_', '-')}", value, where="command line")
    model = load_model(CHAR_CHECKPOINT, CharRNN, "train_charrnn")
    vocab = text.load_vocab()
    model.to(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    prime = encode_prime(vocab, settings["prime"] or "\n")
    with torch.no_grad():
        drawn = sample_rnn(model, prime, settings)
    print(settings["prime"] + vocab.decode(drawn))


def main():
    options = parse_options(sys.argv[1:])
    if any(value is not None for value in vars(options).values()):
        play(options)
    else:
        write_samples()


def write_samples():
    """The stage: samples of both models, with params.yaml's `generate` settings, under samples/."""
    config = params.load("generate")
    settings = config["generate"]
    vocab, train = text.load_vocab(), text.load_split("train")
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

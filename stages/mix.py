"""Stage `mix`: the char-RNN, static or adapting, interpolated with the n-gram (and with the cache n-gram
of the text read so far): the weights fitted on val, scored on test."""

import logging

import numpy as np

from stages.lib import cli, io, ngram, params, text

log = logging.getLogger(__name__)

METRICS = "metrics/mix.json"
WEIGHT_LABELS = {"rnn": "rnn", "dynamic": "rnn", "cache": "cache"}  # the n-gram's weight is the rest


def read_scores(split):
    """Per-character log p of the split's characters after the first, by model, checked to score the same text."""
    files = {
        "rnn": (text.CHARRNN_NLL_FILES, "train_charrnn", -1),
        "dynamic": (text.DYNAMIC_NLL_FILES, "dynamic_eval", -1),
        "ngram": (text.NGRAM_LOGPROB_FILES, "ngram", 1),
        "cache": (text.CACHE_LOGPROB_FILES, "ngram", 1),
    }
    scores = {name: sign * io.read_output(paths[split], np.load, stage) for name, (paths, stage, sign) in files.items()}
    if len({score.shape for score in scores.values()}) > 1:
        raise cli.UserError(
            f"{', '.join(paths[split] for paths, _, _ in files.values())} score different texts; rerun the pipeline with 'dvc repro'"
        )
    return scores


def mixture(suffix, names, val, test):
    """The metrics of the models `names` interpolated, their weights fitted on val (EM), scored on test."""
    weights = ngram.fit_mix_weights([val[name] for name in names])
    test_loss = ngram.mixture_nll([test[name] for name in names], weights)
    log.info("mixture%s of %s (weights %s, fitted on val): %.4f nats/char on test", suffix, " + ".join(names), np.round(weights, 3), test_loss)
    return {
        f"test_loss_mix{suffix}": round(test_loss, 5),
        f"test_bpc_mix{suffix}": round(text.nats_to_bits(test_loss), 5),
        f"val_loss_mix{suffix}": round(ngram.mixture_nll([val[name] for name in names], weights), 5),  # where the weights were fitted
        **{f"{WEIGHT_LABELS[name]}_weight{suffix}": round(float(weight), 4) for name, weight in zip(names, weights) if name in WEIGHT_LABELS},
    }


def main():
    params.load("mix")  # no parameters of its own, but a misspelt key anywhere is still refused
    val, test = read_scores("val"), read_scores("test")
    io.write_json(
        METRICS,
        {
            **mixture("", ("rnn", "ngram"), val, test),
            **mixture("_dynamic", ("dynamic", "ngram"), val, test),
            **mixture("_adaptive", ("dynamic", "ngram", "cache"), val, test),  # the n-gram of the text read so far as well
        },
    )


if __name__ == "__main__":
    cli.run(main)

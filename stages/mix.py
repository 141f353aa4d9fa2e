"""Stage `mix`: the char-RNN interpolated with the n-gram, its weight fitted on the val split, scored on the test split."""

import logging

import numpy as np

from stages.lib import cli, io, ngram, params, text

log = logging.getLogger(__name__)

METRICS = "metrics/mix.json"


def log_probs(split):
    """(char-RNN log p, n-gram log p) of the split's characters, checked to score the same text."""
    rnn = -io.read_output(text.CHARRNN_NLL_FILES[split], np.load, "train_charrnn")
    ngram_logprob = io.read_output(text.NGRAM_LOGPROB_FILES[split], np.load, "ngram")
    if rnn.shape != ngram_logprob.shape:
        raise cli.UserError(
            f"{text.CHARRNN_NLL_FILES[split]} and {text.NGRAM_LOGPROB_FILES[split]} score different texts; "
            "rerun the pipeline with 'dvc repro'"
        )
    return rnn, ngram_logprob


def main():
    params.load("mix")  # no parameters of its own, but a misspelt key anywhere is still refused
    val, test = log_probs("val"), log_probs("test")
    weight = ngram.fit_mix_weight(*val)
    test_loss = ngram.mixed_nll(*test, weight)
    io.write_json(
        METRICS,
        {
            "test_loss_mix": round(test_loss, 5),
            "test_bpc_mix": round(text.nats_to_bits(test_loss), 5),
            "val_loss_mix": round(ngram.mixed_nll(*val, weight), 5),  # where the weight was fitted
            "rnn_weight": round(weight, 4),
        },
    )
    log.info("mixture (RNN weight %.3f, fitted on val): %.4f nats/char on test", weight, test_loss)


if __name__ == "__main__":
    cli.run(main)

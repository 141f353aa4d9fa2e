"""Stage `mix`: the char-RNN, static and adapting, interpolated with the n-gram: each weight fitted on val, scored on test."""

import logging

import numpy as np

from stages.lib import cli, io, ngram, params, text

log = logging.getLogger(__name__)

METRICS = "metrics/mix.json"


def log_probs(split, rnn_files=text.CHARRNN_NLL_FILES, rnn_stage="train_charrnn"):
    """(char-RNN log p, n-gram log p) of the split's characters, checked to score the same text."""
    rnn = -io.read_output(rnn_files[split], np.load, rnn_stage)
    ngram_logprob = io.read_output(text.NGRAM_LOGPROB_FILES[split], np.load, "ngram")
    if rnn.shape != ngram_logprob.shape:
        raise cli.UserError(
            f"{rnn_files[split]} and {text.NGRAM_LOGPROB_FILES[split]} score different texts; "
            "rerun the pipeline with 'dvc repro'"
        )
    return rnn, ngram_logprob


def mixture(suffix, rnn_files, rnn_stage):
    """The metrics of one char-RNN (static or adapting) mixed with the n-gram, its weight fitted on val."""
    val, test = log_probs("val", rnn_files, rnn_stage), log_probs("test", rnn_files, rnn_stage)
    weight = ngram.fit_mix_weight(*val)
    test_loss = ngram.mixed_nll(*test, weight)
    log.info("mixture%s (RNN weight %.3f, fitted on val): %.4f nats/char on test", suffix, weight, test_loss)
    return {
        f"test_loss_mix{suffix}": round(test_loss, 5),
        f"test_bpc_mix{suffix}": round(text.nats_to_bits(test_loss), 5),
        f"val_loss_mix{suffix}": round(ngram.mixed_nll(*val, weight), 5),  # where the weight was fitted
        f"rnn_weight{suffix}": round(weight, 4),
    }


def main():
    params.load("mix")  # no parameters of its own, but a misspelt key anywhere is still refused
    io.write_json(
        METRICS,
        {**mixture("", text.CHARRNN_NLL_FILES, "train_charrnn"), **mixture("_dynamic", text.DYNAMIC_NLL_FILES, "dynamic_eval")},
    )


if __name__ == "__main__":
    cli.run(main)

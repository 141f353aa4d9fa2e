"""Stage `mix`: the char-RNN interpolated with the n-gram, weight fitted on the first half of val, scored on the second."""

import logging

import numpy as np

from stages.lib import cli, io, ngram, params, text

log = logging.getLogger(__name__)

METRICS = "metrics/mix.json"


def main():
    params.load("mix")  # no parameters of its own, but a misspelt key anywhere is still refused
    rnn = -io.read_output(text.CHARRNN_VAL_NLL_FILE, np.load, "train_charrnn")
    ngram_logprob = io.read_output(text.NGRAM_VAL_LOGPROB_FILE, np.load, "ngram")
    if rnn.shape != ngram_logprob.shape:
        raise cli.UserError(
            f"{text.CHARRNN_VAL_NLL_FILE} and {text.NGRAM_VAL_LOGPROB_FILE} score different texts; "
            "rerun the pipeline with 'dvc repro'"
        )
    half = len(rnn) // 2
    weight = ngram.fit_mix_weight(rnn[:half], ngram_logprob[:half])
    second = slice(half, None)
    metrics = {
        "val_loss_mix": round(ngram.mixed_nll(rnn[second], ngram_logprob[second], weight), 5),
        "rnn_weight": round(weight, 4),
        "second_half": {"charrnn": round(float(-rnn[second].mean()), 5), "ngram": round(float(-ngram_logprob[second].mean()), 5)},
        "first_half": {"charrnn": round(float(-rnn[:half].mean()), 5), "ngram": round(float(-ngram_logprob[:half].mean()), 5)},
    }
    metrics["val_bpc_mix"] = round(text.nats_to_bits(metrics["val_loss_mix"]), 5)
    io.write_json(METRICS, metrics)
    log.info("mixture (RNN weight %.3f): %.4f nats/char on the second half of val", weight, metrics["val_loss_mix"])


if __name__ == "__main__":
    cli.run(main)

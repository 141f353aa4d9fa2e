"""Stage `ngram`: the smoothed character n-gram baseline, scored on the val split."""

import logging

from stages.lib import cli, io, ngram, params, text

log = logging.getLogger(__name__)

METRICS = "metrics/ngram.json"


def main():
    config = params.load("ngram")["ngram"]
    vocab, train, val = text.load_encoded()
    model = ngram.KneserNey(train, len(vocab), config["max_order"])
    per_order = {}
    for order in range(1, config["max_order"] + 1):
        logprob = model.log_probs(val, order)
        loss = float(-logprob.mean())
        per_order[str(order)] = {
            "val_loss": round(loss, 4),
            "val_bpc": round(text.nats_to_bits(loss), 4),
            "unseen_ngram_fraction": round(model.unseen_fraction(val, order), 4),
        }
        log.info("order %d: %.4f nats/char, %.4f bits/char", order, loss, text.nats_to_bits(loss))
    io.write_npy(text.NGRAM_VAL_LOGPROB_FILE, logprob)
    best = min(per_order, key=lambda order: per_order[order]["val_loss"])
    top = per_order[str(config["max_order"])]
    io.write_json(
        METRICS,
        {
            "val_loss": top["val_loss"],
            "val_bpc": top["val_bpc"],
            "best_order": int(best),
            "best_val_bpc": per_order[best]["val_bpc"],
            "per_order": per_order,
        },
    )


if __name__ == "__main__":
    cli.run(main)

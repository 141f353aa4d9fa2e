"""Stage `ngram`: the smoothed character n-gram baseline, scored on the val and the test split, and the
cache n-gram that learns each split as it reads it (for `mix`)."""

import logging

from stages.lib import cli, io, ngram, params, text

log = logging.getLogger(__name__)

METRICS = "metrics/ngram.json"


def main():
    config = params.load("ngram")["ngram"]
    vocab, train, val = text.load_encoded()
    splits = {"val": val, "test": text.load_split("test")}
    model = ngram.KneserNey(train, len(vocab), config["max_order"])
    per_order = {}
    for order in range(1, config["max_order"] + 1):
        per_order[str(order)] = {}
        for name, data in splits.items():
            logprob = model.log_probs(data, order)
            loss = float(-logprob.mean())
            per_order[str(order)].update({f"{name}_loss": round(loss, 4), f"{name}_bpc": round(text.nats_to_bits(loss), 4)})
            if order == config["max_order"]:
                io.write_npy(text.NGRAM_LOGPROB_FILES[name], logprob)
        per_order[str(order)]["unseen_ngram_fraction"] = round(model.unseen_fraction(val, order), 4)
        log.info("order %d: val %.4f, test %.4f nats/char", order, per_order[str(order)]["val_loss"], per_order[str(order)]["test_loss"])
    cache = {}
    for name, data in splits.items():
        logprob = ngram.cache_log_probs(data, len(vocab), config["max_order"])
        io.write_npy(text.CACHE_LOGPROB_FILES[name], logprob)
        cache[name] = round(float(-logprob.mean()), 4)
    log.info("cache %d-gram of the text read so far: val %.4f, test %.4f nats/char", config["max_order"], cache["val"], cache["test"])
    best = min(per_order, key=lambda order: per_order[order]["val_loss"])  # chosen on val
    top = per_order[str(config["max_order"])]
    io.write_json(
        METRICS,
        {
            "test_loss": top["test_loss"],
            "test_bpc": top["test_bpc"],
            "val_loss": top["val_loss"],
            "val_bpc": top["val_bpc"],
            "best_order": int(best),
            "best_order_test_bpc": per_order[best]["test_bpc"],
            "cache_test_loss": cache["test"],  # Witten-Bell, counts of the split's own earlier characters only
            "cache_val_loss": cache["val"],
            "per_order": per_order,
        },
    )


if __name__ == "__main__":
    cli.run(main)

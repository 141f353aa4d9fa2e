"""Stage `vocab`: split the corpus by position into train, val and test, and encode them with the train vocabulary."""

import logging
from pathlib import Path

from stages.lib import cli, io, params, text

log = logging.getLogger(__name__)

CORPUS = "data/raw/corpus.txt"


def main():
    config = params.load("vocab")["vocab"]
    if not Path(CORPUS).is_file():
        raise cli.UserError(f"{CORPUS}: file not found; run the 'download' stage first")
    parts = dict(zip(("train", "val", "test"), text.split(Path(CORPUS).read_text(encoding="utf-8"), config["val_fraction"], config["test_fraction"])))
    if min(len(part) for part in parts.values()) < 2:
        raise cli.UserError(
            f"{CORPUS}: too short to split with vocab.val_fraction={config['val_fraction']} and "
            f"vocab.test_fraction={config['test_fraction']} (each part needs 2 characters or more)"
        )
    vocab = text.Vocab.from_text(parts["train"])
    for name in ("val", "test"):
        unseen = vocab.unknown_chars(parts[name])
        if unseen:
            log.warning("characters of the %s split never seen in training (mapped to %s): %r", name, text.UNKNOWN, "".join(unseen))
    for name, part in parts.items():
        io.write_npy(text.SPLIT_FILES[name], vocab.encode(part))
    io.write_json(text.VOCAB_FILE, vocab.to_json())
    log.info("vocabulary of %d symbols; %s characters", len(vocab), ", ".join(f"{len(part)} {name}" for name, part in parts.items()))


if __name__ == "__main__":
    cli.run(main)

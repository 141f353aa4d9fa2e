"""Stage `vocab`: split the corpus by position and encode both parts with the train vocabulary."""

import logging
from pathlib import Path

from stages.lib import cli, io, params, text

log = logging.getLogger(__name__)

CORPUS = "data/raw/corpus.txt"


def main():
    config = params.load("vocab")["vocab"]
    if not Path(CORPUS).is_file():
        raise cli.UserError(f"{CORPUS}: file not found; run the 'download' stage first")
    train_text, val_text = text.split(Path(CORPUS).read_text(encoding="utf-8"), config["val_fraction"])
    if len(val_text) < 2 or len(train_text) < 2:
        raise cli.UserError(f"{CORPUS}: too short to split with vocab.val_fraction={config['val_fraction']}")
    vocab = text.Vocab.from_text(train_text)
    unseen = vocab.unknown_chars(val_text)
    if unseen:
        log.warning("characters of the val split never seen in training (mapped to %s): %r", text.UNKNOWN, "".join(unseen))
    io.write_npy(text.TRAIN_FILE, vocab.encode(train_text))
    io.write_npy(text.VAL_FILE, vocab.encode(val_text))
    io.write_json(text.VOCAB_FILE, vocab.to_json())
    log.info("vocabulary of %d symbols; %d train and %d val characters", len(vocab), len(train_text), len(val_text))


if __name__ == "__main__":
    cli.run(main)

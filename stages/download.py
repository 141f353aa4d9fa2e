"""Stage `download`: fetch the corpus named by `corpus.*` into data/raw/corpus.txt."""

import logging

from stages.lib import cli, corpus, io, params

log = logging.getLogger(__name__)

OUTPUT = "data/raw/corpus.txt"


def main():
    config = params.load("download")["corpus"]
    text = corpus.load(config)
    io.write_text(OUTPUT, text)
    log.info("wrote %s: %d characters, %d distinct", OUTPUT, len(text), len(set(text)))


if __name__ == "__main__":
    cli.run(main)

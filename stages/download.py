"""Stage `download`: fetch the corpus named by `corpus.*` into data/raw/corpus.txt."""

import logging

from stages.lib import cli, corpus, io, params

log = logging.getLogger(__name__)

OUTPUT = "data/raw/corpus.txt"


def main():
    config = params.load("download")["corpus"]
    with io.atomic_path(OUTPUT) as temporary:  # a download's body goes here first: a kill leaves nothing elsewhere
        text = corpus.load(config, scratch=temporary)
        temporary.write_text(text, encoding="utf-8")
    log.info("wrote %s: %d characters, %d distinct", OUTPUT, len(text), len(set(text)))


if __name__ == "__main__":
    cli.run(main)

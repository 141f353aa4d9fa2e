import logging
import sys

from conftest import run, stage_main
from stages.generate import encode_prime
from stages.lib import text


def test_prime_characters_outside_the_vocabulary_become_unknown_with_a_warning(caplog):
    vocab = text.Vocab.from_text("abc \n")
    with caplog.at_level(logging.WARNING):
        codes = encode_prime(vocab, "ab€x\n")
    assert list(codes) == [1 + vocab.chars.index("a"), 1 + vocab.chars.index("b"), 0, 0, 1 + vocab.chars.index("\n")]
    assert "prime characters not in the vocabulary" in caplog.text and "x€" in caplog.text


def test_known_prime_gives_no_warning(caplog):
    vocab = text.Vocab.from_text("abc")
    with caplog.at_level(logging.WARNING):
        encode_prime(vocab, "cab")
    assert caplog.text == ""


def test_the_sampler_prints_text_and_writes_nothing(repo):
    options = ["--prime", "ALL:", "--length", "50", "--temperature", "0.5", "--seed", "3"]
    first = run([sys.executable, "-m", "stages.generate", *options], repo)
    assert first.stdout.startswith("ALL:") and len(first.stdout) == len("ALL:") + 50 + 1
    assert stage_main("generate", repo, *options).stdout == first.stdout  # seeded: the same in another process
    assert stage_main("generate", repo, *options[:-2], "--seed", "4").stdout != first.stdout
    assert run(["git", "status", "--porcelain"], repo).stdout == ""
    assert "up to date" in run(["dvc", "status"], repo).stdout


def test_the_sampler_names_the_stage_to_run_and_the_option_to_fix(project):
    missing = stage_main("generate", project, "--length", "10", check=False)
    assert missing.returncode == 2
    assert missing.stderr == "error: data/charrnn.pt: file not found; run the 'train_charrnn' stage first\n"
    bad = stage_main("generate", project, "--length", "-3", check=False)
    assert bad.returncode == 2 and "command line: '--length' is -3" in bad.stderr

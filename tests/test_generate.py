import logging

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

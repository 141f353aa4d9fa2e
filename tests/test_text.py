import numpy as np

from stages.lib import text


def test_vocab_round_trip_and_unknown_index():
    vocab = text.Vocab.from_text("hello world")
    assert len(vocab) == len(set("hello world")) + 1
    codes = vocab.encode("hello world")
    assert codes.dtype == np.uint8
    assert vocab.decode(codes) == "hello world"
    assert text.UNKNOWN_INDEX not in codes
    assert list(vocab.encode("hxz")) == [vocab.encode("h")[0], 0, 0]
    assert vocab.unknown_chars("hxz!") == ["!", "x", "z"]


def test_vocab_is_sorted_and_survives_json():
    vocab = text.Vocab.from_text("cab\nd")
    assert vocab.chars == ("\n", "a", "b", "c", "d")
    assert text.Vocab.from_json(vocab.to_json()) == vocab


def test_large_vocabularies_get_wider_dtype():
    vocab = text.Vocab.from_text("".join(chr(0x4E00 + i) for i in range(300)))
    assert vocab.dtype == np.uint16
    assert vocab.decode(vocab.encode("\u4e01\u4e02")) == "\u4e01\u4e02"


def test_split_by_position():
    assert text.split("abcdefghij", 0.2, 0.1) == ("bcdefgh", "ij", "a")


def test_the_test_split_is_the_opening_and_val_the_end_whatever_the_length():
    corpus = "".join(chr(65 + i % 26) for i in range(4_812_345))
    train, val, test = text.split(corpus, 0.05, 0.05)
    assert len(test) == int(round(len(corpus) * 0.05)) and len(val) == int(round(len(corpus) * 0.05))
    assert test + train + val == corpus  # in order, no character twice, none left out

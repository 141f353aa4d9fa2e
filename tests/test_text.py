import math

import numpy as np
import pytest

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
    train, val = text.split("abcdefghij", 0.2)
    assert (train, val) == ("abcdefgh", "ij")


def test_unigram_known_answer():
    # train "aab" over {unk, a, b}: counts 2 and 1, fixed discounts D(1)=0.5, D(2)=1.
    # P(a) = (2-1)/3 + (1+0.5)/3 * 1/3 = 1/2; P(b) = 0.5/3 + 1/6 = 1/3; P(unk) = 1/6.
    model = text.KneserNey(np.array([1, 1, 2]), vocab_size=3, max_order=1)
    np.testing.assert_allclose(model.next_distribution([]), [1 / 6, 1 / 2, 1 / 3])


def test_bigram_known_answer():
    # train "abab": bigrams ab x2, ba x1; continuation unigrams a:1 (b precedes), b:1 (a precedes).
    # Unigram level: total 2, both counts 1, D(1)=0.5 -> P1(a)=P1(b)=0.25+1/3*1/2... computed below.
    model = text.KneserNey(np.array([1, 2, 1, 2]), vocab_size=3, max_order=2)
    p1 = np.array([0.0, 0.5, 0.5]) - np.array([0.0, 0.5, 0.5]) / 2 + 1.0 / 2 * np.full(3, 1 / 3)
    # after "a": c(ab) = 2 of total 2, D(2) = 1 -> (2-1)/2 + 1/2 * P1
    expected_after_a = np.array([0.0, 0.0, 0.5]) + 0.5 * p1
    np.testing.assert_allclose(model.next_distribution([1]), expected_after_a)
    # after unk (never seen): the unigram level alone
    np.testing.assert_allclose(model.next_distribution([0]), p1)


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    corpus = "the quick brown fox jumps over the lazy dog. " * 50
    noisy = "".join(c if rng.random() > 0.05 else rng.choice(list("xyz")) for c in corpus)
    vocab = text.Vocab.from_text(noisy)
    return vocab, text.KneserNey(vocab.encode(noisy), len(vocab), 5)


@pytest.mark.parametrize("history", ["", "t", "the q", "zzzz", "\ufffd\ufffd", "fox j"])
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_distributions_sum_to_one(trained, history, order):
    vocab, model = trained
    p = model.next_distribution(vocab.encode(history), order)
    assert p.shape == (len(vocab),)
    assert (p > 0).all()
    assert math.isclose(p.sum(), 1.0, rel_tol=1e-9)


def test_log_probs_match_next_distribution(trained):
    vocab, model = trained
    data = vocab.encode("the lazy fox.")
    lp = model.log_probs(data, 4)
    for i in range(1, len(data)):
        p = model.next_distribution(data[max(0, i - 3) : i], 4)
        assert math.isclose(lp[i - 1], math.log(p[data[i]]), rel_tol=1e-12)


def test_higher_orders_fit_repetitive_text_better(trained):
    vocab, model = trained
    data = vocab.encode("the quick brown fox jumps over the lazy dog. " * 3)
    losses = [-model.log_probs(data, order).mean() for order in range(1, 6)]
    assert losses == sorted(losses, reverse=True)
    assert model.unseen_fraction(data, 5) == 0.0


def test_mix_weight_maximises_the_likelihood():
    rng = np.random.default_rng(1)
    rnn = np.log(rng.uniform(0.05, 0.9, 500))
    ngram = np.log(rng.uniform(0.05, 0.9, 500))
    weight = text.fit_mix_weight(rnn, ngram)
    best = text.mixed_nll(rnn, ngram, weight)
    grid = [text.mixed_nll(rnn, ngram, w) for w in np.linspace(0.01, 0.99, 99)]
    assert best <= min(grid) + 1e-9
    assert best <= min(-rnn.mean(), -ngram.mean())


def test_mix_weight_goes_to_the_better_model():
    good, bad = np.log(np.full(100, 0.9)), np.log(np.full(100, 0.01))
    assert text.fit_mix_weight(good, bad) > 0.99
    assert text.fit_mix_weight(bad, good) < 0.01

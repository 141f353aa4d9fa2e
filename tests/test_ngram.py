import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stages.lib import ngram, text
from stages.lib.cli import UserError


def test_unigram_known_answer():
    # train "aab" over {unk, a, b}: counts 2 and 1, fixed discounts D(1)=0.5, D(2)=1.
    # P(a) = (2-1)/3 + (1+0.5)/3 * 1/3 = 1/2; P(b) = 0.5/3 + 1/6 = 1/3; P(unk) = 1/6.
    model = ngram.KneserNey(np.array([1, 1, 2]), vocab_size=3, max_order=1)
    np.testing.assert_allclose(model.next_distribution([]), [1 / 6, 1 / 2, 1 / 3])


def test_bigram_known_answer():
    # train "abab": bigrams ab x2, ba x1; continuation unigrams a:1 (b precedes), b:1 (a precedes).
    # Unigram level: total 2, both counts 1, D(1)=0.5 -> P1(a)=P1(b)=0.25+1/3*1/2... computed below.
    model = ngram.KneserNey(np.array([1, 2, 1, 2]), vocab_size=3, max_order=2)
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
    return vocab, ngram.KneserNey(vocab.encode(noisy), len(vocab), 5)


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
    ngram_logprob = np.log(rng.uniform(0.05, 0.9, 500))
    weight = ngram.fit_mix_weight(rnn, ngram_logprob)
    best = ngram.mixed_nll(rnn, ngram_logprob, weight)
    grid = [ngram.mixed_nll(rnn, ngram_logprob, w) for w in np.linspace(0.01, 0.99, 99)]
    assert best <= min(grid) + 1e-9
    assert best <= min(-rnn.mean(), -ngram_logprob.mean())


def test_mix_weight_goes_to_the_better_model():
    good, bad = np.log(np.full(100, 0.9)), np.log(np.full(100, 0.01))
    assert ngram.fit_mix_weight(good, bad) > 0.99
    assert ngram.fit_mix_weight(bad, good) < 0.01


def test_discounts_stay_within_zero_and_the_count_for_uneven_counts_of_counts():
    counts = np.array([1, 2, 3] + [4] * 5)  # n1..n4 = 1, 1, 1, 5: Chen & Goodman give D(3+) = -3.67
    discounts = ngram.modified_kn_discounts(counts)
    assert (discounts[1:] > 0).all() and (discounts <= np.arange(4)).all()


@st.composite
def corpora(draw):
    """A train and a val split over a random alphabet: rare characters, some seen only in val."""
    alphabet = draw(st.integers(3, 200))
    size = draw(st.integers(300, 100_000))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    weights = rng.pareto(draw(st.floats(0.3, 3.0)), alphabet) + 1e-3  # a long tail of rare characters
    data = rng.choice(np.arange(1, alphabet + 1), size=size, p=weights / weights.sum())
    cut = int(size * draw(st.floats(0.5, 0.95)))
    val = data[cut:].copy()
    val[rng.random(len(val)) < 0.01] = 0  # the unknown index: never seen in training
    return data[:cut], val, alphabet + 1, draw(st.integers(1, 5))


@settings(max_examples=40)
@given(corpora())
def test_any_corpus_gives_distributions_that_sum_to_one_and_finite_losses(corpus):
    train, val, vocab_size, max_order = corpus
    model = ngram.KneserNey(train, vocab_size, max_order)
    for order in range(1, max_order + 1):
        for history in (list(val[-order:]), list(train[:order]), [0] * order):
            p = model.next_distribution(history, order)
            assert (p > 0).all()
            assert p.sum() == pytest.approx(1.0, abs=1e-9)
        assert np.isfinite(model.log_probs(val, order)).all()


def test_an_order_whose_keys_would_overflow_is_refused_naming_the_key():
    # Found by test_any_params: order 12 over 40 symbols; the message named the key without quotes.
    with pytest.raises(UserError, match=r"^'ngram\.max_order' is 12, too high for a vocabulary of 40 symbols"):
        ngram.KneserNey(np.array([1, 2, 3]), vocab_size=40, max_order=12)


def test_three_mix_weights_maximise_the_likelihood_over_the_simplex():
    rng = np.random.default_rng(2)
    models = [np.log(rng.uniform(0.05, 0.9, 400)) for _ in range(3)]
    weights = ngram.fit_mix_weights(models)
    assert weights.sum() == pytest.approx(1.0) and (weights >= 0).all()
    best = ngram.mixture_nll(models, weights)
    grid = [ngram.mixture_nll(models, [a, b, 1 - a - b]) for a in np.linspace(0.02, 0.96, 48) for b in np.linspace(0.02, 0.96, 48) if a + b < 0.99]
    assert best <= min(grid) + 1e-9
    assert ngram.mixed_nll(models[0], models[1], 0.3) == pytest.approx(ngram.mixture_nll(models[:2], [0.3, 0.7]))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=60), st.integers(1, 6), st.integers(0, 6))
def test_the_cache_ngram_scores_each_character_from_the_text_before_it_alone(data, max_order, next_char):
    vocab_size = 7
    scores = ngram.cache_log_probs(data, vocab_size, max_order)
    assert scores.shape == (len(data) - 1,) and np.isfinite(scores).all()
    longer = ngram.cache_log_probs(data + [next_char], vocab_size, max_order)
    assert np.array_equal(longer[:-1], scores)  # a later character changes no earlier score
    following = [np.exp(ngram.cache_log_probs(data + [c], vocab_size, max_order)[-1]) for c in range(vocab_size)]
    assert sum(following) == pytest.approx(1.0, abs=1e-12)  # a distribution over the next character


def test_the_cache_ngram_learns_a_passage_it_has_read_once():
    rng = np.random.default_rng(0)
    passage = rng.integers(0, 30, 200).tolist()
    scores = ngram.cache_log_probs(passage + passage, 30, 5)
    assert -scores[:199].mean() > np.log(30) - 0.5  # the first reading: about uniform
    assert -scores[-150:].mean() < 0.3  # the second: the passage is remembered

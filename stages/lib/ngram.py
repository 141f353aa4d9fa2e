"""The smoothed character n-gram baseline (interpolated modified Kneser-Ney) and its mixture with the char-RNN."""

from dataclasses import dataclass

import numpy as np

from .cli import UserError


def ngram_keys(data, order, base):
    """Integer key of every `order`-gram of `data` (position i covers data[i:i+order])."""
    count = len(data) - order + 1
    keys = np.zeros(max(count, 0), dtype=np.int64)
    for k in range(order):
        keys = keys * base + data[k : k + count]
    return keys


@dataclass
class OrderTable:
    """Counts of one order: sorted n-gram keys and counts, and per-history totals and discounts."""

    keys: np.ndarray
    counts: np.ndarray
    history_keys: np.ndarray
    history_totals: np.ndarray
    history_backoff: np.ndarray  # the discounted mass, D1*N1 + D2*N2 + D3*N3+, per history
    discounts: np.ndarray  # D(c) for c = 0, 1, 2, 3+

    @classmethod
    def build(cls, keys, counts, base):
        """Tables from sorted unique keys and their (raw or continuation) counts."""
        discounts = modified_kn_discounts(counts)
        history = keys // base
        history_keys, first = np.unique(history, return_index=True)
        totals = np.add.reduceat(counts, first)
        mass = discounts[np.minimum(counts, 3)]
        backoff = np.add.reduceat(mass, first)
        return cls(keys, counts, history_keys, totals, backoff, discounts)


def lookup(keys, table_keys, values):
    """values[i] where keys match table_keys[i] (sorted), 0 where a key is absent."""
    if len(table_keys) == 0:
        return np.zeros(len(keys), dtype=np.float64)
    at = np.searchsorted(table_keys, keys).clip(max=len(table_keys) - 1)
    return np.where(table_keys[at] == keys, values[at], 0).astype(np.float64)


FIXED_DISCOUNTS = np.array([0.0, 0.5, 1.0, 1.5])  # D(c) when the counts of counts are too few to estimate
MIN_DISCOUNT_SHARE = 0.05  # D(c) >= 5 % of c: every seen history keeps some mass for unseen characters


def modified_kn_discounts(counts):
    """Chen & Goodman's discounts D(c) for c = 0, 1, 2, 3+, from the counts of counts.

    Their estimate leaves [0, c] when the counts of counts are uneven (common in small tables:
    n1..n4 = 1, 1, 1, 5 gives D(3+) = -3.67), which would make probabilities negative or sum
    above one. Each D(c) is clamped to [MIN_DISCOUNT_SHARE * c, c]: the probabilities of a
    history then sum to one and every character keeps a positive probability.
    """
    n = [np.count_nonzero(counts == c) for c in (1, 2, 3, 4)]
    if min(n) == 0:
        return FIXED_DISCOUNTS.copy()
    y = n[0] / (n[0] + 2 * n[1])
    estimate = np.array([0.0, 1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]])
    c = np.arange(4, dtype=np.float64)
    return np.clip(estimate, MIN_DISCOUNT_SHARE * c, c)


class KneserNey:
    """Interpolated modified Kneser-Ney character model of order `max_order` over `vocab_size` symbols.

    The highest order uses raw counts, lower orders continuation counts (how many distinct
    characters precede an n-gram), and the recursion ends in the uniform distribution, so every
    character, seen or not, after any history, gets a probability.
    """

    def __init__(self, train, vocab_size, max_order):
        if vocab_size**max_order >= 2**62:
            raise UserError(
                f"'ngram.max_order' is {max_order}, too high for a vocabulary of {vocab_size} symbols "
                "(n-gram keys would overflow 64 bits); lower it"
            )
        self.base = vocab_size
        self.max_order = max_order
        data = np.asarray(train, dtype=np.int64)
        self.raw = {}
        self.continuation = {}
        previous_keys = None
        for order in range(max_order, 0, -1):
            keys, counts = np.unique(ngram_keys(data, order, self.base), return_counts=True)
            self.raw[order] = OrderTable.build(keys, counts, self.base)
            if previous_keys is not None:
                suffix_keys, suffix_counts = np.unique(previous_keys % self.base**order, return_counts=True)
                self.continuation[order] = OrderTable.build(suffix_keys, suffix_counts, self.base)
            previous_keys = keys

    def table(self, order, top):
        """The counts used at `order` in a model whose highest order is `top`."""
        return self.raw[order] if order == top else self.continuation[order]

    def probabilities(self, histories, targets, available, top):
        """P(target | history) for a model of order `top`.

        `histories[:, j]` is the j-th character before the target (j = 0 nearest); `available`
        says how many history characters each row really has (shorter ones back off).
        """
        prob = np.full(len(targets), 1.0 / self.base)
        history_key = np.zeros(len(targets), dtype=np.int64)
        for order in range(1, top + 1):
            if order > 1:
                history_key = history_key + histories[:, order - 2] * self.base ** (order - 2)
            table = self.table(order, top)
            key = history_key * self.base + targets
            count = lookup(key, table.keys, table.counts)
            total = lookup(history_key, table.history_keys, table.history_totals)
            backoff = lookup(history_key, table.history_keys, table.history_backoff)
            discounted = np.maximum(count - table.discounts[np.minimum(count, 3).astype(int)], 0)
            seen = (total > 0) & (available >= order - 1)
            safe_total = np.where(seen, total, 1.0)
            prob = np.where(seen, discounted / safe_total + backoff / safe_total * prob, prob)
        return prob

    def log_probs(self, data, order=None):
        """Natural log-probability of data[i] given data[:i], for i = 1 .. len(data) - 1."""
        top = order or self.max_order
        data = np.asarray(data, dtype=np.int64)
        positions = np.arange(1, len(data))
        offsets = np.arange(1, max(top, 2))
        back = positions[:, None] - offsets[None, :]
        histories = data[back.clip(min=0)]
        available = np.minimum(positions, top - 1)
        return np.log(self.probabilities(histories, data[positions], available, top))

    def next_distribution(self, history, order=None):
        """P(c | history) for every symbol c; `history` is a sequence of indices, oldest first."""
        top = order or self.max_order
        recent = np.asarray(history, dtype=np.int64)[::-1][: top - 1]
        histories = np.zeros((self.base, max(top - 1, 1)), dtype=np.int64)
        histories[:, : len(recent)] = recent
        available = np.full(self.base, len(recent))
        return self.probabilities(histories, np.arange(self.base), available, top)

    def unseen_fraction(self, data, order):
        """Share of data's `order`-grams never seen in training: where the unsmoothed model gives 0."""
        keys = ngram_keys(np.asarray(data, dtype=np.int64), order, self.base)
        table = self.raw[order]
        return float(np.mean(lookup(keys, table.keys, table.counts) == 0))


def fit_mix_weights(logprobs, iterations=200):
    """The weights (summing to 1) maximising mean log(sum_k w_k p_k) over the models' per-character
    log-probabilities `logprobs` (one array each), by EM from equal weights."""
    probs = np.exp(np.stack(logprobs))
    weights = np.full(len(logprobs), 1.0 / len(logprobs))
    for _ in range(iterations):
        shares = weights[:, None] * probs
        weights = (shares / shares.sum(axis=0)).mean(axis=1)
    return weights


def mixture_nll(logprobs, weights):
    """Mean negative log-likelihood of the interpolation sum_k w_k p_k."""
    with np.errstate(divide="ignore"):  # a weight of 0 gives log 0 = -inf for that model, as it should
        return float(-np.logaddexp.reduce(np.log(np.asarray(weights))[:, None] + np.stack(logprobs), axis=0).mean())


def fit_mix_weight(rnn_logprob, ngram_logprob, iterations=200):
    """The weight w maximising mean log(w p_rnn + (1 - w) p_ngram), by EM."""
    return float(fit_mix_weights([rnn_logprob, ngram_logprob], iterations)[0])


def mixed_nll(rnn_logprob, ngram_logprob, weight):
    """Mean negative log-likelihood of the interpolation w p_rnn + (1 - w) p_ngram."""
    return mixture_nll([rnn_logprob, ngram_logprob], [weight, 1 - weight])


def cache_log_probs(data, vocab_size, max_order):
    """Natural log-probability of data[i] given data[:i], for i = 1 .. len(data) - 1, under an
    interpolated Witten-Bell n-gram whose counts are those of data[:i] alone: a "cache" of the
    text read so far, which learns the names and phrases a text repeats.

    Each character is scored first and counted after, so no score ever saw its own character
    or any later one. The recursion ends in the uniform distribution over `vocab_size`.
    """
    data = np.asarray(data, dtype=np.int64).tolist()
    counts, totals, types = {}, {}, {}  # (order, history key, c) -> count; (order, history key) -> total, distinct followers
    logprob = np.empty(max(len(data) - 1, 0))
    for i in range(1, len(data)):
        target = data[i]
        prob, key, histories = 1.0 / vocab_size, 0, []
        for order in range(1, max_order + 1):
            if order > 1:
                if i - order + 1 < 0:
                    break
                key = key * vocab_size + data[i - order + 1] + 1  # +1: no history key collides with a shorter one
            history = (order, key)
            histories.append(history)
            total = totals.get(history, 0)
            if total:
                distinct = types[history]
                prob = (counts.get((*history, target), 0) + distinct * prob) / (total + distinct)
        logprob[i - 1] = np.log(prob)
        for history in histories:
            entry = (*history, target)
            seen = counts.get(entry, 0)
            counts[entry] = seen + 1
            totals[history] = totals.get(history, 0) + 1
            types[history] = types.get(history, 0) + (seen == 0)
    return logprob

"""The character n-gram model against counting in NumPy written here, on a tiny text."""
import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import models
from deepzoo.data.text import ByteVocab
from deepzoo.tasks.counting import Counting
from deepzoo.train import fit

TEXT = "the cat sat on the mat. the hat is that cat's."


def _windows(text, length):
    ids = np.asarray(ByteVocab().encode(text), np.int32)
    n = len(ids) // (length + 1)
    return ids[:n * (length + 1)].reshape(n, length + 1)


def _fit(order, k, tokens, **kwargs):
    model = models.get("char_ngram", order=order, **kwargs)
    variables = model.init(jax.random.key(0), jnp.asarray(tokens[:, :-1]))
    # two batches, the second with a padding row (mask 0) that must not count
    batches = lambda: [{"tokens": tokens[:2], "mask": np.ones(2)},
                       {"tokens": np.concatenate([tokens[2:], tokens[:1]]), "mask": np.r_[np.ones(len(tokens) - 2), 0]}]
    return model, fit.fit(model, Counting(k=k), variables, batches)


def _numpy_log_probs(tokens, order, k, vocab=260):
    """log P(w | c) = log((count(c, w) + k) / (count(c) + k V)) at every position of every window."""
    counts = collections.Counter()
    contexts = []
    for row in tokens:
        padded = [0] * (order - 1) + list(row)    # PAD before the start; position i reads padded[i .. i + n - 2]
        for i in range(len(row) - 1):
            c = tuple(padded[i + 1:i + order])     # the n - 1 symbols ending at token i
            counts[c, row[i + 1]] += 1
            contexts.append(c)
    out = np.zeros((len(contexts), vocab))
    for j, c in enumerate(contexts):
        row = np.array([counts[c, w] for w in range(vocab)], float) + k
        out[j] = np.log(row / row.sum())
    return out.reshape(len(tokens), -1, vocab)


@pytest.mark.parametrize("order,table_size", [(1, 1 << 22), (2, 1 << 22), (3, 1 << 22), (5, 1 << 22)])
def test_log_probabilities_are_the_add_k_counts(order, table_size):
    tokens = _windows(TEXT, 11)
    model, variables = _fit(order, 0.5, tokens, table_size=table_size)
    assert model.hashed == (order >= 3)
    np.testing.assert_allclose(model.apply(variables, jnp.asarray(tokens[:, :-1])),
                               _numpy_log_probs(tokens, order, 0.5), atol=2e-5)


def test_probabilities_sum_to_one_for_every_context_even_when_cells_collide():
    tokens = _windows(TEXT, 11)
    model, variables = _fit(3, 0.1, tokens, table_size=97)     # a tiny table: many (context, next) pairs collide
    rng = np.random.default_rng(0)
    contexts = jnp.asarray(rng.integers(0, 260, size=(50, 8)), jnp.int32)
    probs = np.exp(np.asarray(model.apply(variables, contexts), np.float64))
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


def test_huge_k_gives_the_uniform_distribution():
    tokens = _windows(TEXT, 11)
    model, variables = _fit(2, 1e12, tokens)
    np.testing.assert_allclose(np.exp(model.apply(variables, jnp.asarray(tokens[:, :-1]))), 1 / 260, rtol=1e-4)


def test_another_k_is_one_more_solve_from_the_kept_counts():
    tokens = _windows(TEXT, 11)
    model, variables = _fit(3, 0.5, tokens)
    again = Counting(k=2.0).solve(model, variables, variables["counts"])
    np.testing.assert_allclose(model.apply(again, jnp.asarray(tokens[:, :-1])), _numpy_log_probs(tokens, 3, 2.0),
                               atol=2e-5)


def test_bad_smoothing_and_order_are_told_with_the_fix():
    with pytest.raises(ValueError, match="k > 0"):
        Counting(k=0.0)
    with pytest.raises(ValueError, match="order >= 1"):
        models.get("char_ngram", order=0)

"""The character n-gram model against counting in NumPy written here, on a tiny text."""
import collections
import os
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.parametrize("order,table_size", [(1, 1 << 17), (2, 1 << 17), (3, 1 << 17), (5, 1 << 17)])
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


def test_pairs_that_share_both_their_cells_fall_back_to_k_and_the_others_keep_their_counts():
    tokens = _windows(TEXT, 11)
    order, k = 3, 0.5
    # ~40 distinct trigrams, each in 2 of 101 cells; an unseen pair may still match a cell's owner by its
    # fingerprint (chance 2^-14 a cell), which these deterministic hashes happen not to do here.
    model, variables = _fit(order, k, tokens, table_size=101)
    inputs = jnp.asarray(tokens[:, :-1])
    cells = np.asarray(model.apply(variables, inputs, jnp.asarray(tokens[:, 1:]), method="cells")[0])
    # NumPy: which distinct trigrams landed in each cell; a pair keeps its count if it alone is in one of its cells.
    counts, pairs_in_cell, cells_of, contexts = collections.Counter(), collections.defaultdict(set), {}, []
    for row, row_cells in zip(tokens, cells):
        padded = [0] * (order - 1) + list(row)
        for i in range(len(row) - 1):
            pair = (tuple(padded[i + 1:i + order]), row[i + 1])
            counts[pair] += 1
            cells_of[pair] = tuple(row_cells[i])
            for cell in row_cells[i]:
                pairs_in_cell[cell].add(pair)
            contexts.append(pair[0])
    kept = {pair for pair, mine in cells_of.items() if any(len(pairs_in_cell[c]) == 1 for c in mine)}
    assert 0 < len(kept) < len(counts)                            # the test needs both kinds
    expected = np.array([[counts[c, w] if (c, w) in kept else 0.0 for w in range(260)] for c in contexts]) + k
    expected = np.log(expected / expected.sum(-1, keepdims=True)).reshape(len(tokens), -1, 260)
    np.testing.assert_allclose(model.apply(variables, inputs), expected, atol=2e-5)


def test_huge_k_gives_the_uniform_distribution():
    tokens = _windows(TEXT, 11)
    model, variables = _fit(2, 1e12, tokens)
    np.testing.assert_allclose(np.exp(model.apply(variables, jnp.asarray(tokens[:, :-1]))), 1 / 260, rtol=1e-4)


def test_another_k_is_one_more_solve_from_the_kept_counts():
    tokens = _windows(TEXT, 11)
    model, variables = _fit(3, 0.5, tokens, table_size=1 << 17)
    again = Counting(k=2.0).solve(model, variables, variables["counts"])
    np.testing.assert_allclose(model.apply(again, jnp.asarray(tokens[:, :-1])), _numpy_log_probs(tokens, 3, 2.0),
                               atol=2e-5)


def test_bad_smoothing_and_order_are_told_with_the_fix():
    with pytest.raises(ValueError, match="k > 0"):
        Counting(k=0.0)
    with pytest.raises(ValueError, match="order >= 1"):
        models.get("char_ngram", order=0)


@pytest.mark.slow
def test_char_lm_experiment_reports_the_ngram_rows(tmp_path):
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(root / "experiments" / "char_lm.py"), "--variant=smoke",
                             "--cells=ngram1,ngram3", "--temperatures=0,1", "--sample_length=20",
                             f"--workdir={tmp_path / 'runs'}", f"--output_dir={out}"], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    table = (out / "results.md").read_text()
    assert "| ngram1 | 260 | 1 pass, k=" in table and "| ngram3 |" in table and "| gru |" not in table
    assert (out / "samples.md").read_text().count("## ngram3, temperature") == 2

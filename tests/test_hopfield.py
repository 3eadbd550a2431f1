"""Hopfield networks against NumPy written here: Hebbian weights, the energy under asynchronous updates,
recall of a stored pattern, and the modern network's update as deepzoo's attention."""
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import models
from deepzoo.layers import attention
from deepzoo.tasks.hebbian import Hebbian
from deepzoo.train import fit


def _store(patterns, batch_size=None, mask=None):
    n = patterns.shape[1]
    model = models.get("hopfield", num_units=n)
    variables = model.init(jax.random.key(0), jnp.ones((1, n)))
    mask = np.ones(len(patterns)) if mask is None else mask
    size = batch_size or len(patterns)
    batches = lambda: [{"input": patterns[i:i + size], "mask": mask[i:i + size]} for i in range(0, len(patterns), size)]
    return model, fit.fit(model, Hebbian(), variables, batches)


def _random_patterns(rng, p, n):
    return rng.choice([-1.0, 1.0], size=(p, n)).astype(np.float32)


def test_hebbian_weights_are_the_normalised_outer_products_with_zero_diagonal():
    rng = np.random.default_rng(0)
    xi = _random_patterns(rng, 7, 20)
    mask = np.array([1, 1, 1, 1, 1, 0, 0], np.float32)       # the last two rows are padding
    _, variables = _store(xi, batch_size=3, mask=mask)
    expected = sum(np.outer(x, x) for x in xi[:5]) / 20
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(variables["params"]["weights"], expected, atol=1e-6)


def test_energy_never_rises_under_asynchronous_updates():
    rng = np.random.default_rng(1)
    n = 24
    model, variables = _store(_random_patterns(rng, 5, n))
    w = np.asarray(variables["params"]["weights"])
    s = _random_patterns(rng, 3, n)
    energy = lambda s: -0.5 * np.einsum("bi,ij,bj->b", s, w, s)
    np.testing.assert_allclose(model.apply(variables, s, method="energy"), energy(s), rtol=1e-5)
    update = jax.jit(lambda s, i: model.apply(variables, s, i, method="update_unit"))
    for i in list(rng.permutation(n)) * 3:
        new = np.asarray(update(s, i))
        h = s @ w[i]
        expected = s.copy()
        expected[:, i] = np.where(h > 0, 1.0, np.where(h < 0, -1.0, s[:, i]))
        np.testing.assert_array_equal(new, expected)
        assert np.all(energy(new) <= energy(s) + 1e-5)
        s = new


def test_a_stored_pattern_is_a_fixed_point_and_is_recalled_from_ten_percent_flipped_bits():
    rng = np.random.default_rng(2)
    n = 100
    xi = _random_patterns(rng, 1, n)
    model, variables = _store(xi)
    np.testing.assert_array_equal(model.apply(variables, xi), xi)                       # synchronous
    noisy = xi.copy()
    noisy[0, rng.choice(n, 10, replace=False)] *= -1
    recalled = model.apply(variables, noisy, jax.random.key(0), method="recall_async")
    np.testing.assert_array_equal(recalled, xi)
    np.testing.assert_array_equal(model.apply(variables, noisy, 1, method="recall_sync"), xi)


def test_wrong_pattern_length_is_told_with_the_fix():
    model = models.get("hopfield", num_units=10)
    with pytest.raises(ValueError, match="num_units=12"):
        Hebbian().statistics(model, None, {"input": jnp.ones((2, 12))})


def test_modern_hopfield_update_is_attention_over_the_stored_patterns():
    rng = np.random.default_rng(3)
    p, d, beta = 50, 16, 0.7
    stored = rng.normal(size=(p, d)).astype(np.float32)
    states = rng.normal(size=(4, d)).astype(np.float32)
    model = models.get("modern_hopfield", num_patterns=p, features=d, beta=beta)
    variables = {"params": {"patterns": jnp.asarray(stored)}}
    new = model.apply(variables, states)
    # NumPy: X softmax(beta X^T xi)
    logits = beta * states @ stored.T
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(new, (weights / weights.sum(-1, keepdims=True)) @ stored, rtol=1e-5, atol=1e-6)
    # deepzoo's attention, one head: queries the states, keys = values = the stored patterns; it scales by
    # 1/sqrt(d), so the queries carry beta sqrt(d).
    q = jnp.asarray(states)[:, None, None, :] * beta * np.sqrt(d)              # (batch, q_len 1, heads 1, d)
    kv = jnp.broadcast_to(jnp.asarray(stored)[None, :, None, :], (4, p, 1, d))  # (batch, P, heads 1, d)
    np.testing.assert_allclose(new, attention.dot_product_attention(q, kv, kv)[:, 0, 0], rtol=1e-5, atol=1e-6)


def test_modern_hopfield_retrieves_one_of_many_more_patterns_than_dimensions_in_one_step():
    rng = np.random.default_rng(4)
    p, d = 2000, 32                                     # P = 62 d, far beyond the classic 0.138 d
    stored = _random_patterns(rng, p, d)
    model = models.get("modern_hopfield", num_patterns=p, features=d, beta=1.0)
    variables = {"params": {"patterns": jnp.asarray(stored)}}
    noisy = stored[:20].copy()
    noisy[:, :3] *= -1                                  # ~10% of the bits flipped
    new = np.asarray(model.apply(variables, noisy))
    np.testing.assert_array_equal(np.sign(new), stored[:20])
    energy = model.apply(variables, np.concatenate([noisy, new]), method="energy")
    assert np.all(energy[20:] <= energy[:20])           # the update lowers the energy (Ramsauer et al., Thm 1)


@pytest.mark.slow
def test_capacity_experiment_writes_its_tables_and_figures(tmp_path):
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(root / "experiments" / "hopfield.py"), f"--output_dir={out}",
                             "--sizes=20,40", "--trials=2", "--max_load=0.05", "--patterns=4,64", "--betas=1",
                             "--queries=8"], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    table = (out / "results.md").read_text()
    assert "| 40 |" in table and "0.138 (published)" in table and "| 64 | 1 |" in table
    for name in ("capacity.png", "modern_hopfield.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")
    assert len((out / "capacity.csv").read_text().splitlines()) == 1 + 2 * 5

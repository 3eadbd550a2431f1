"""The neural Turing machine's addressing and memory access against NumPy transcriptions of Graves et al.'s
equations 2-9, the model's weightings and gradients, its LSTM baseline and the copy experiment."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import models
from deepzoo.models import ntm


def _np_content(memory, key, beta):
    cos = memory @ key / (np.linalg.norm(memory, axis=-1) * np.linalg.norm(key) + 1e-8)
    e = np.exp(beta * cos - (beta * cos).max())
    return e / e.sum()


def test_content_addressing_is_a_softmax_of_scaled_cosine_similarity():
    rng = np.random.default_rng(0)
    memory, key, beta = rng.normal(size=(2, 6, 4)), rng.normal(size=(2, 4)), np.array([0.5, 8.0])
    got = ntm.content_weights(jnp.asarray(memory), jnp.asarray(key), jnp.asarray(beta))
    for b in range(2):
        np.testing.assert_allclose(got[b], _np_content(memory[b], key[b], beta[b]), rtol=1e-5, atol=1e-7)


def test_shift_is_the_circular_convolution_of_eq_8():
    rng = np.random.default_rng(1)
    w, s = rng.dirichlet(np.ones(7), size=2), rng.dirichlet(np.ones(3), size=2)
    expected = np.zeros_like(w)
    for b in range(2):
        for i in range(7):
            for k, offset in enumerate((-1, 0, 1)):   # s_k weighs moving the focus by `offset`
                expected[b, i] += w[b, (i - offset) % 7] * s[b, k]
    np.testing.assert_allclose(ntm.shift(jnp.asarray(w), jnp.asarray(s)), expected, rtol=1e-6)


def test_address_interpolates_shifts_and_sharpens():
    rng = np.random.default_rng(2)
    memory, key = jnp.asarray(rng.normal(size=(1, 8, 5))), jnp.asarray(rng.normal(size=(1, 5)))
    previous = jnp.asarray(np.eye(8)[[2]])
    one, stay, right = jnp.ones(1), jnp.asarray([[0.0, 1.0, 0.0]]), jnp.asarray([[0.0, 0.0, 1.0]])
    # gate 1, no shift, gamma 1: pure content addressing
    np.testing.assert_allclose(ntm.address(memory, previous, key, 3 * one, one, stay, one),
                               ntm.content_weights(memory, key, 3 * one), rtol=1e-5)
    # gate 0, shift by +1: the previous focus moves one location on (the copy task's sequential walk)
    np.testing.assert_allclose(ntm.address(memory, previous, key, 3 * one, 0 * one, right, one), np.eye(8)[[3]],
                               atol=1e-6)
    # sharpening: w^gamma / sum, gamma = 3
    blurred = jnp.asarray([[0.1, 0.6, 0.3, 0, 0, 0, 0, 0]])
    sharp = ntm.address(memory, blurred, key, one, 0 * one, stay, 3 * one)
    np.testing.assert_allclose(sharp, blurred ** 3 / jnp.sum(blurred ** 3), rtol=1e-5)


def test_write_erases_then_adds_and_read_is_the_weighted_sum():
    rng = np.random.default_rng(3)
    memory, w = rng.normal(size=(1, 5, 3)), rng.dirichlet(np.ones(5), size=1)
    erase, add = rng.uniform(size=(1, 3)), rng.normal(size=(1, 3))
    expected = memory * (1 - w[..., None] * erase[:, None]) + w[..., None] * add[:, None]   # eq. 3-4
    got = ntm.write(*(jnp.asarray(a) for a in (memory, w, erase, add)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ntm.read(got, jnp.asarray(w)), np.einsum("bnm,bn->bm", expected, w), rtol=1e-5)
    # a sharp weighting with erase 1 replaces that row by the add vector, and reading it returns it
    replaced = ntm.write(jnp.asarray(memory), jnp.asarray(np.eye(5)[[1]]), jnp.ones((1, 3)), jnp.asarray(add))
    np.testing.assert_allclose(ntm.read(replaced, jnp.asarray(np.eye(5)[[1]])), add, rtol=1e-6)


@pytest.mark.slow   # ~8 s of compilation (the scan and its gradient); test_model_zoo runs the model too
def test_model_weightings_are_distributions_and_every_parameter_gets_a_gradient():
    model = models.get("ntm_copy", memory_size=16, controller_size=12)
    x = jax.random.bernoulli(jax.random.key(1), 0.5, (2, 7, 9)).astype(jnp.float32)
    variables = jax.jit(model.init)(jax.random.key(0), x)   # jitted: scan's init op by op is twice as slow

    def loss(params):   # one compilation for the outputs, the weightings and the gradients
        y, w_read, w_write = model.apply({"params": params}, x, method="trace")
        return jnp.sum(y ** 2), (y, w_read, w_write)

    grads, (y, w_read, w_write) = jax.jit(jax.grad(loss, has_aux=True))(variables["params"])
    assert y.shape == (2, 7, 8) and w_read.shape == w_write.shape == (2, 7, 16)
    np.testing.assert_allclose(w_read.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(w_write.sum(-1), 1.0, atol=1e-5)
    assert all(bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads))


def test_the_lstm_baseline_has_the_ntms_size():
    count = lambda name: sum(a.size for a in jax.tree.leaves(jax.eval_shape(
        lambda: models.get(name).init(jax.random.key(0), jnp.zeros((1, 5, 9))))))
    lstm = 4 * (120 * (9 + 120) + 120) + 120 * 8 + 8      # gates on [x, h] with biases, then the readout
    assert count("lstm_copy") == lstm and abs(count("ntm_copy") - lstm) / lstm < 0.02


@pytest.mark.slow
def test_ntm_experiment_writes_its_table_and_figures(run_experiment):
    out = run_experiment("ntm.py", "--variant=smoke")
    table = (out / "results.md").read_text()
    assert "| ntm | 2,600 |" in table and "| lstm |" in table and "length 120" in table
    assert (out / "copy.png").stat().st_size > 0 and (out / "heads.png").stat().st_size > 0

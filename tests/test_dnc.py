"""The differentiable neural computer's memory management against worked examples and NumPy transcriptions of
Graves et al. (2016)'s Methods: usage, allocation, the temporal link matrix and precedence, the model and its experiment."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import models
from deepzoo.models import dnc


def test_allocation_worked_example():
    u = np.array([[0.4, 0.1, 0.9, 0.5]])
    # by increasing usage: location 1 (0.1), 0 (0.4), 3 (0.5), 2 (0.9)
    expected = [0.6 * 0.1, 0.9, 0.1 * (0.1 * 0.4 * 0.5), 0.5 * (0.1 * 0.4)]
    np.testing.assert_allclose(dnc.allocation(jnp.asarray(u)), [expected], rtol=1e-6)
    assert abs(sum(expected) - (1 - np.prod(u))) < 1e-12       # all of it is handed out but the product of usages


def test_usage_grows_with_writes_and_frees_what_is_read_with_the_free_gate_on():
    rng = np.random.default_rng(0)
    u, w, f = rng.uniform(size=(2, 5)), rng.dirichlet(np.ones(5), 2), rng.uniform(size=(2, 3))
    r = rng.dirichlet(np.ones(5), (2, 3))
    psi = np.ones((2, 5))
    for i in range(3):
        psi *= 1 - f[:, i:i + 1] * r[:, i]
    expected = (u + w - u * w) * psi
    np.testing.assert_allclose(dnc.usage(*(jnp.asarray(a) for a in (u, w, f, r))), expected, rtol=1e-5)


def test_link_matrix_and_precedence_against_numpy_loops():
    rng = np.random.default_rng(1)
    links, p, w = rng.uniform(size=(1, 4, 4)) * (1 - np.eye(4)), rng.dirichlet(np.ones(4), 1) * 0.7, rng.dirichlet(np.ones(4), 1) * 0.9
    expected = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            if i != j:
                expected[i, j] = (1 - w[0, i] - w[0, j]) * links[0, i, j] + w[0, i] * p[0, j]
    np.testing.assert_allclose(dnc.link(jnp.asarray(links), jnp.asarray(p), jnp.asarray(w))[0], expected, rtol=1e-5)
    np.testing.assert_allclose(dnc.precedence(jnp.asarray(p), jnp.asarray(w)), (1 - w.sum()) * p + w, rtol=1e-6)


def test_links_remember_the_order_of_sharp_writes():
    n, links, p = 6, jnp.zeros((1, 6, 6)), jnp.zeros((1, 6))
    for location in (2, 5, 1):
        w = jnp.eye(n)[None, location]
        links, p = dnc.link(links, p, w), dnc.precedence(p, w)
    forward = lambda at: int(jnp.argmax(links[0] @ jnp.eye(n)[at]))
    backward = lambda at: int(jnp.argmax(links[0].T @ jnp.eye(n)[at]))
    assert (forward(2), forward(5)) == (5, 1) and (backward(1), backward(5)) == (5, 2)


@pytest.mark.slow   # compiles the scan and its gradient
def test_model_weightings_are_bounded_and_every_parameter_gets_a_gradient():
    model = models.get("dnc_copy", memory_size=8, controller_size=12, word_size=4, num_reads=2)
    x = jax.random.bernoulli(jax.random.key(1), 0.5, (2, 6, 9)).astype(jnp.float32)
    variables = jax.jit(model.init)(jax.random.key(0, impl="rbg"), x)

    def loss(params):
        y, write_w, read_w, u = model.apply({"params": params}, x, method="trace")
        return jnp.sum(y ** 2), (y, write_w, read_w, u)

    grads, (y, write_w, read_w, u) = jax.jit(jax.grad(loss, has_aux=True))(variables["params"])
    assert y.shape == (2, 6, 8) and write_w.shape == u.shape == (2, 6, 8) and read_w.shape == (2, 6, 2, 8)
    assert float(write_w.sum(-1).max()) <= 1 + 1e-5 and float(read_w.sum(-1).max()) <= 1 + 1e-5
    assert float(u.min()) >= 0 and float(u.max()) <= 1 + 1e-6
    assert all(bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads))


@pytest.mark.slow
def test_dnc_experiment_writes_its_table_and_figure(run_experiment):
    out = run_experiment("dnc.py", "--variant=smoke", "--tasks=associative_recall", "--models=dnc,lstm")
    table = (out / "results.md").read_text()
    assert "## associative recall" in table and "| dnc |" in table and "| lstm |" in table and "items_15" in table
    assert (out / "dnc.png").stat().st_size > 0

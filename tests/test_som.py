"""Kohonen's map: the SOM task's gradient step is Kohonen's rule; its metrics; a 1-D map orders itself."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from deepzoo import models, tasks
from deepzoo.train.state import create_train_state
from deepzoo.train.step import make_eval_step, make_train_step


def _kohonen_numpy(codebook, x, alpha, sigma):
    """Kohonen (1982): w_j += alpha h(j, c) (x - w_j), c the nearest unit, h Gaussian in grid distance."""
    rows, cols, _ = codebook.shape
    d2 = ((codebook - x) ** 2).sum(-1)
    c = np.unravel_index(np.argmin(d2), d2.shape)
    new = codebook.copy()
    for i in range(rows):
        for j in range(cols):
            h = np.exp(-((i - c[0]) ** 2 + (j - c[1]) ** 2) / (2 * sigma**2))
            new[i, j] += alpha * h * (x - codebook[i, j])
    return new


@pytest.mark.parametrize("decay", ["exponential", "linear"])
def test_gradient_step_is_kohonens_update(decay):
    rows, cols, d, alpha, steps = 3, 4, 2, 0.3, 100
    model = models.get("som", rows=rows, cols=cols)
    task = tasks.get("som", sigma0=2.0, sigma_end=0.5, num_steps=steps, decay=decay)
    tx = optax.sgd(alpha)
    state = create_train_state(model, tx, jnp.zeros((1, d)), seed=0)
    train_step = jax.jit(make_train_step(model, task, tx, seed=0))
    rng = np.random.default_rng(0)
    for at in (0, 37, 100):
        codebook = rng.uniform(size=(rows, cols, d)).astype(np.float32)
        s = state.replace(step=jnp.asarray(at, jnp.int32), params={"codebook": jnp.asarray(codebook)})
        t = at / steps
        sigma = 2.0 * (0.5 / 2.0) ** t if decay == "exponential" else 2.0 + (0.5 - 2.0) * t
        xs = rng.uniform(size=(2, d)).astype(np.float32)
        new, metrics = train_step(s, {"input": xs[:1]})
        np.testing.assert_allclose(new.params["codebook"], _kohonen_numpy(codebook, xs[0], alpha, sigma), atol=1e-6)
        np.testing.assert_allclose(metrics["sigma"][0], sigma, rtol=1e-5)
        # A batch takes the mean of its examples' updates.
        new, _ = train_step(s, {"input": xs})
        mean = (_kohonen_numpy(codebook, xs[0], alpha, sigma) + _kohonen_numpy(codebook, xs[1], alpha, sigma)) / 2
        np.testing.assert_allclose(new.params["codebook"], mean, atol=1e-6)


def test_quantisation_and_topographic_error_against_numpy():
    codebook = np.array([[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]],
                         [[0.0, 1.0], [5.0, 5.0], [2.0, 1.0]]], np.float32)     # 2 x 3 grid in the plane
    x = np.array([[0.1, 0.0], [0.9, 0.1], [2.0, 0.6], [1.0, 0.9], [4.0, 4.0], [3.0, 3.0]], np.float32)
    mask = np.array([1, 1, 1, 1, 1, 0], np.float32)
    qe, te = [], []
    for p in x:
        d = np.linalg.norm(codebook - p, axis=-1).ravel()
        first, second = np.argsort(d)[:2]
        (r1, c1), (r2, c2) = divmod(first, 3), divmod(second, 3)
        qe.append(d[first])
        te.append(abs(r1 - r2) + abs(c1 - c2) != 1)
    model, task = models.get("som", rows=2, cols=3), tasks.get("som")
    state = create_train_state(model, optax.sgd(0.1), jnp.zeros((1, 2)), seed=0)
    state = state.replace(params={"codebook": jnp.asarray(codebook)})
    m = make_eval_step(model, task)(state, {"input": x, "mask": mask})
    np.testing.assert_allclose(m["quantisation_error"][0] / m["quantisation_error"][1],
                               np.sum(np.array(qe) * mask) / mask.sum(), rtol=1e-5)
    np.testing.assert_allclose(m["topographic_error"][0], np.sum(np.array(te) * mask))
    assert float(m["topographic_error"][1]) == 5.0
    assert 0 < float(m["topographic_error"][0]) < 5   # the case has both kinds


def test_one_dimensional_map_orders_itself():
    units, steps = 10, 3000
    model = models.get("som", rows=1, cols=units)
    task = tasks.get("som", sigma0=3.0, sigma_end=0.5, num_steps=steps)
    tx = optax.sgd(optax.linear_schedule(0.5, 0.01, steps))
    state = create_train_state(model, tx, jnp.zeros((1, 1)), seed=3)
    start = np.asarray(state.params["codebook"]).ravel()
    assert not (np.all(np.diff(start) > 0) or np.all(np.diff(start) < 0))   # it starts disordered
    train_step = make_train_step(model, task, tx, seed=0)
    xs = jax.random.uniform(jax.random.key(0), (steps, 1, 1))

    @jax.jit
    def run(state):
        return jax.lax.scan(lambda s, x: (train_step(s, {"input": x})[0], None), state, xs)[0]

    w = np.asarray(run(state).params["codebook"]).ravel()
    assert np.all(np.diff(w) > 0) or np.all(np.diff(w) < 0), w
    assert w.min() < 0.15 and w.max() > 0.85, w    # and spreads over the data


def test_bad_settings_say_the_fix():
    with pytest.raises(ValueError, match="sigma0 >= sigma_end"):
        tasks.get("som", sigma0=0.2, sigma_end=1.0)
    with pytest.raises(ValueError, match="exponential, linear"):
        tasks.get("som", decay="cosine")
    with pytest.raises(ValueError, match="use model 'som'"):
        tasks.get("som").validate((2, 10), None, "mlp")

"""The perceptron: its criterion's gradient step is Rosenblatt's rule, Novikoff's bound holds, XOR is out of reach."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from deepzoo import models, tasks
from deepzoo.train.state import create_train_state
from deepzoo.train.step import make_train_step


def _setup(d):
    model, task, tx = models.get("perceptron"), tasks.get("perceptron"), optax.sgd(1.0)
    state = create_train_state(model, tx, jnp.zeros((1, d)), seed=0)
    step = jax.jit(make_train_step(model, task, tx, seed=0))
    return model, task, state, step


def _epoch(step):
    """One pass over (x, y) one example at a time -> (state, mistakes made)."""
    @jax.jit
    def run(state, x, y):
        def one(state, xy):
            state, m = step(state, {"input": xy[0][None], "label": xy[1][None]})
            return state, m["mistakes"][0]
        state, mistakes = jax.lax.scan(one, state, (x, y))
        return state, jnp.sum(mistakes)
    return run


def test_one_sgd_step_of_lr_1_is_rosenblatts_update():
    model, _, state, step = _setup(3)
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=3).astype(np.float32), np.float32(0.3)
    state = state.replace(params={"w": jnp.asarray(w), "b": jnp.asarray(b)})
    cases = [rng.normal(size=3).astype(np.float32) for _ in range(6)] + [np.zeros(3, np.float32)]
    for x in cases:
        for label in (-1, 1):
            new, _ = step(state, {"input": x[None], "label": np.array([label])})
            # Rosenblatt: on a mistake (y (w.x + b) <= 0, the boundary included) w += y x, b += y.
            mistake = label * (w @ x + b) <= 0
            np.testing.assert_allclose(new.params["w"], w + label * x if mistake else w, rtol=1e-6)
            np.testing.assert_allclose(new.params["b"], b + label if mistake else b, rtol=1e-6)


def test_batch_step_sums_the_updates_and_labels_0_1_mean_minus_plus():
    _, _, state, step = _setup(2)
    x = np.array([[1.0, 2.0], [-1.0, 0.5], [3.0, -1.0]], np.float32)
    labels01 = np.array([1, 0, 0])
    new, m = step(state, {"input": x, "label": labels01})   # w = 0: every point is a mistake
    y = 2.0 * labels01 - 1.0
    np.testing.assert_allclose(new.params["w"], (y[:, None] * x).sum(0), rtol=1e-6)
    np.testing.assert_allclose(new.params["b"], y.sum(), rtol=1e-6)
    assert float(m["mistakes"][0]) == 3.0


def _separable(n, d, gamma, seed):
    """n points of the unit ball in R^d labelled by a random unit w* on (x, 1), all at margin >= gamma."""
    rng = np.random.default_rng(seed)
    w_star = rng.normal(size=d + 1)
    w_star /= np.linalg.norm(w_star)
    x = []
    while len(x) < n:
        p = rng.uniform(-1, 1, size=d)
        if np.linalg.norm(p) <= 1 and abs(w_star @ np.append(p, 1.0)) >= gamma:
            x.append(p)
    x = np.array(x, np.float32)
    y = np.sign(np.c_[x, np.ones(n)] @ w_star).astype(np.float32)
    margin = np.min(y * (np.c_[x, np.ones(n)] @ w_star))
    radius = np.max(np.linalg.norm(np.c_[x, np.ones(n)], axis=1))   # the bias is a weight on a constant input 1
    return x, y, radius, margin


@pytest.mark.parametrize("gamma,seed", [(0.3, 0), (0.1, 1)])
def test_novikoff_bound_on_mistakes_then_all_correct(gamma, seed):
    x, y, radius, margin = _separable(200, 3, gamma, seed)
    model, task, state, step = _setup(3)
    epoch, total = _epoch(step), 0
    for _ in range(100):
        state, mistakes = epoch(state, x, y)
        total += int(mistakes)
        if mistakes == 0:
            break
    assert mistakes == 0, "did not converge"
    assert 0 < total <= (radius / margin) ** 2, (total, (radius / margin) ** 2)
    out = model.apply({"params": state.params}, x)
    np.testing.assert_array_equal(out, y)


def test_cannot_fit_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([-1, 1, 1, -1], np.float32)
    model, task, state, step = _setup(2)
    epoch = _epoch(step)
    for _ in range(50):
        state, mistakes = epoch(state, x, y)
        assert mistakes >= 1
        accuracy = np.mean(np.asarray(model.apply({"params": state.params}, x)) == y)
        assert accuracy <= 0.75


def test_bad_input_says_what_to_use():
    task = tasks.get("perceptron")
    class Source:
        num_classes = 10
    with pytest.raises(ValueError, match="dataset.classes"):
        task.validate((2,), Source(), "perceptron")
    with pytest.raises(ValueError, match="use model 'perceptron'"):
        task.validate((2, 10), Source(), "mlp")

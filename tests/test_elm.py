"""The extreme learning machine: a fixed random hidden layer and a least-squares readout through the shared
fit, against NumPy, and Huang, Zhu & Siew's Theorem 2.1 (as many hidden units as examples: an exact fit)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import data, models
from deepzoo.tasks.least_squares import LeastSquares
from deepzoo.train import fit


def _fit(x, labels, num_hidden, ridge, batch_size=16, init_scale=0.5, float64=False):
    model = models.get("elm", num_hidden=num_hidden, num_outputs=3, init_scale=init_scale)
    variables = model.init(jax.random.key(0), jnp.zeros((1, *x.shape[1:])))
    batches = lambda: data.eval_batches(data.ArraySource({"input": x, "label": labels}), global_batch_size=batch_size)
    learner = LeastSquares(target="label", ridge=ridge, float64=float64)
    return model, variables, fit.fit(model, learner, variables, batches)


def test_readout_is_the_ridge_solution_on_numpy_features_and_the_hidden_layer_stays_fixed():
    rng = np.random.default_rng(0)
    x, labels = rng.uniform(size=(50, 4, 2)).astype(np.float32), rng.integers(0, 3, 50)
    model, before, after = _fit(x, labels, num_hidden=12, ridge=0.1)
    hidden = before["params"]["hidden"]
    w, b = (np.asarray(hidden[k], np.float64) for k in ("kernel", "bias"))
    assert w.shape == (8, 12) and np.all(np.abs(w) <= 0.5) and np.all(np.abs(b) <= 0.5)
    h = 1 / (1 + np.exp(-(x.reshape(50, -1) @ w + b)))                    # sigmoid units, in float64
    h1 = np.c_[h, np.ones(50)]
    expected = np.linalg.solve(h1.T @ h1 + 0.1 * np.diag([1.0] * 12 + [0.0]), h1.T @ np.eye(3)[labels])
    np.testing.assert_allclose(after["params"]["readout"]["kernel"], expected[:-1], rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(after["params"]["readout"]["bias"], expected[-1], rtol=2e-3, atol=2e-4)
    for k in ("kernel", "bias"):
        np.testing.assert_array_equal(after["params"]["hidden"][k], hidden[k])


def test_as_many_hidden_units_as_examples_fit_the_training_set_exactly():
    # Theorem 2.1: N distinct examples, N hidden units (with the readout's bias, N - 1 suffice): H~ is square
    # and invertible with probability one, so the one-hot targets are met exactly. The normal equations square
    # H's condition number: summed in float32 they meet them to ~3e-2, in float64 to float32's precision.
    rng = np.random.default_rng(1)
    x, labels = rng.normal(size=(30, 5)).astype(np.float32), rng.integers(0, 3, 30)
    model, _, variables = _fit(x, labels, num_hidden=29, ridge=0.0, init_scale=3.0)
    np.testing.assert_allclose(model.apply(variables, jnp.asarray(x)), np.eye(3)[labels], atol=5e-2)
    model, _, variables = _fit(x, labels, num_hidden=29, ridge=0.0, init_scale=3.0, float64=True)
    np.testing.assert_allclose(model.apply(variables, jnp.asarray(x)), np.eye(3)[labels], atol=1e-3)
    small, _, fewer = _fit(x, labels, num_hidden=5, ridge=0.0, init_scale=3.0)
    assert np.abs(np.asarray(small.apply(fewer, jnp.asarray(x))) - np.eye(3)[labels]).max() > 0.3


def test_bad_settings_name_the_fix():
    with pytest.raises(ValueError, match="activation"):
        models.get("elm", activation="step").init(jax.random.key(0), jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match="num_hidden"):
        models.get("elm", num_hidden=0).init(jax.random.key(0), jnp.zeros((1, 3)))


@pytest.mark.slow
def test_elm_experiment_compares_with_backprop(run_experiment):
    out = run_experiment("elm.py", "--datasets=digits", "--widths=20,200", "--variant=smoke")
    table = (out / "results.md").read_text()
    assert "| digits | 20 |" in table and "| digits | 200 |" in table
    assert (out / "elm.png").stat().st_size > 0

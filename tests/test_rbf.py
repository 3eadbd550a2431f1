"""The RBF network's learners through the shared fit: least squares, a Lloyd step, sums over any batch size."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import data, models
from deepzoo.tasks.kmeans import KMeans, widths
from deepzoo.tasks.least_squares import LeastSquares
from deepzoo.train import fit


def _batches(arrays, batch_size):
    """A callable giving one ordered pass in batches of `batch_size`, the last padded and masked."""
    return lambda: data.eval_batches(data.ArraySource(arrays), global_batch_size=batch_size)


def _network(num_centres, d, num_outputs=1):
    model = models.get("rbf_network", num_centres=num_centres, num_outputs=num_outputs)
    return model, model.init(jax.random.key(0), jnp.zeros((1, d)))


def _features(x, centres, s):
    d2 = ((x[:, None, :] - centres[None]) ** 2).sum(-1)
    return np.exp(-d2 / (2 * s**2))


@pytest.mark.parametrize("ridge", [0.0, 0.5])
def test_least_squares_readout_against_numpy(ridge):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(37, 2)).astype(np.float32), rng.normal(size=(37, 3)).astype(np.float32)
    model, variables = _network(6, 2, 3)
    variables = fit.fit(model, LeastSquares(ridge=ridge), variables, _batches({"input": x, "target": y}, 8))
    p = variables["params"]
    h = np.c_[_features(x.astype(np.float64), np.asarray(p["basis"]["centres"], np.float64),
                        np.asarray(p["basis"]["widths"], np.float64)), np.ones(len(x))]
    if ridge == 0:
        expected = np.linalg.lstsq(h, y, rcond=None)[0]
    else:   # the closed form of ridge regression with an unpenalised bias
        expected = np.linalg.solve(h.T @ h + ridge * np.diag([1.0] * 6 + [0.0]), h.T @ y)
    np.testing.assert_allclose(p["readout"]["kernel"], expected[:-1], rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(p["readout"]["bias"], expected[-1], rtol=2e-3, atol=2e-4)


def test_least_squares_one_hot_labels():
    rng = np.random.default_rng(1)
    x, labels = rng.normal(size=(20, 2)).astype(np.float32), rng.integers(0, 3, 20)
    model, variables = _network(5, 2, 3)
    variables = fit.fit(model, LeastSquares(target="label", ridge=1e-3), variables,
                        _batches({"input": x, "label": labels}, 7))
    p = variables["params"]
    h = np.c_[_features(x.astype(np.float64), np.asarray(p["basis"]["centres"], np.float64),
                        np.asarray(p["basis"]["widths"], np.float64)), np.ones(len(x))]
    expected = np.linalg.solve(h.T @ h + 1e-3 * np.diag([1.0] * 5 + [0.0]), h.T @ np.eye(3)[labels])
    np.testing.assert_allclose(p["readout"]["kernel"], expected[:-1], rtol=2e-3, atol=2e-4)


def test_lloyd_step_against_numpy():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 2)).astype(np.float32)
    model, variables = _network(4, 2)
    centres = np.asarray(variables["params"]["basis"]["centres"], np.float64)
    centres[3] = [40.0, 40.0]   # a centre that wins no point stays put
    variables["params"]["basis"]["centres"] = jnp.asarray(centres, jnp.float32)
    new = fit.fit(model, KMeans(), variables, _batches({"input": x}, 16))
    nearest = np.argmin(((x[:, None] - centres[None]) ** 2).sum(-1), 1)
    expected = np.array([x[nearest == k].mean(0) if np.any(nearest == k) else centres[k] for k in range(4)])
    np.testing.assert_allclose(new["params"]["basis"]["centres"], expected, rtol=1e-5, atol=1e-6)


def test_fit_sums_are_the_same_for_every_batch_size():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(23, 2)).astype(np.float32), rng.normal(size=(23, 1)).astype(np.float32)
    model, variables = _network(3, 2)
    for learner in (KMeans(), LeastSquares()):
        stats = jax.jit(lambda v, b, learner=learner: learner.statistics(model, v, b))
        totals = []
        for batch_size in (1, 5, 23, 64):   # 23 = 4 x 5 + 3: the last batch is padded, and masked
            total = None
            for batch in _batches({"input": x, "target": y}, batch_size)():
                s = stats(variables, batch)
                total = s if total is None else jax.tree.map(jnp.add, total, s)
            totals.append(total)
        for other in totals[1:]:
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5), totals[0], other)
        counted = totals[0]["counts"].sum() if "counts" in totals[0] else totals[0]["rows"]
        assert float(counted) == 23


def test_width_rules():
    c = np.array([[0.0], [1.0], [3.0]])
    np.testing.assert_allclose(widths(c, "nearest"), [1.0, 1.0, 2.0])
    np.testing.assert_allclose(widths(c, "nearest", neighbours=2), np.sqrt([(1 + 9) / 2, (1 + 4) / 2, (4 + 9) / 2]))
    np.testing.assert_allclose(widths(c, "dmax"), np.full(3, 3.0 / np.sqrt(6.0)))


def test_bad_input_says_the_fix():
    with pytest.raises(ValueError, match="width_rule"):
        KMeans(width_rule="median")
    model, variables = _network(3, 2)
    with pytest.raises(ValueError, match="set readout="):
        batch = {"input": np.zeros((1, 2)), "target": np.zeros((1, 1)), "mask": np.ones(1)}
        LeastSquares(readout="head").statistics(model, variables, batch)

"""The generated algorithmic tasks (copy, repeat copy, associative recall: layout, determinism, named splits) and
the bit-sequence task's cost against NumPy."""
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import data, tasks
from deepzoo.data.algorithmic import REPEATS_MEAN, REPEATS_STD, associative_recall, copy_sequences, repeat_copy


def test_copy_sequences_layout():
    arrays = copy_sequences(50, 1, 6, seed=3)
    x, y, w = arrays["input"], arrays["target"], arrays["weights"]
    assert x.shape == (50, 13, 9) and y.shape == (50, 13, 8) and w.shape == (50, 13)
    for i in range(50):
        n = int(w[i].sum())                             # the copy is scored on n steps
        assert 1 <= n <= 6
        assert x[i, n, 8] == 1 and x[i, :, 8].sum() == 1   # one delimiter, right after the vectors
        assert not x[i, n:, :8].any()                   # silence after the vectors
        np.testing.assert_array_equal(y[i, n + 1:2 * n + 1], x[i, :n, :8])
        assert w[i, n + 1:2 * n + 1].all() and not y[i, :n + 1].any() and not y[i, 2 * n + 1:].any()
    assert len({int(n) for n in w.sum(1)}) > 3          # lengths vary


def test_copy_sequences_are_deterministic_in_their_seed():
    a, b, c = (copy_sequences(20, 1, 5, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a["input"], b["input"])
    assert not np.array_equal(a["input"], c["input"])


def test_copy_named_splits_through_the_data_interface():
    test = data.load("copy", "length_30")
    assert len(test) == 100 and test.read(np.arange(2))["input"].shape == (2, 61, 9)
    assert (test.arrays["weights"].sum(1) == 30).all()
    assert data.dataset_kind("copy") == "generated"
    with pytest.raises(ValueError, match="splits train, validation"):
        data.load("copy", "test")


def test_repeat_copy_layout():
    arrays = repeat_copy(30, (1, 4), (1, 3), seed=2)
    x, y, w = arrays["input"], arrays["target"], arrays["weights"]
    assert x.shape == (30, 4 * 4 + 2, 9) and y.shape == (30, 18, 9)
    for i in range(30):
        n = int(np.flatnonzero(x[i, :, 8])[0])                         # the count comes right after the vectors
        r = int(round(x[i, n, 8] * REPEATS_STD + REPEATS_MEAN))
        assert 1 <= n <= 4 and 1 <= r <= 3 and w[i].sum() == r * n + 1
        np.testing.assert_array_equal(y[i, n + 1:n + 1 + r * n, :8], np.tile(x[i, :n, :8], (r, 1)))
        assert y[i, n + 1 + r * n, 8] == 1 and y[i, :, 8].sum() == 1    # the end marker, once, after the copies


def test_associative_recall_answers_with_the_item_after_the_query():
    arrays = associative_recall(30, (2, 5), seed=3)
    x, y, w = arrays["input"], arrays["target"], arrays["weights"]
    assert x.shape == (30, 4 * 5 + 8, 8) and y.shape == (30, 28, 6)
    for i in range(30):
        starts = np.flatnonzero(x[i, :, 6])                             # item delimiters
        items = [x[i, s + 1:s + 4, :6] for s in starts]
        q = np.flatnonzero(x[i, :, 7])                                  # the two query delimiters
        assert len(q) == 2 and q[1] - q[0] == 4 and 2 <= len(items) <= 5
        query = x[i, q[0] + 1:q[1], :6]
        k = next(k for k, item in enumerate(items[:-1]) if np.array_equal(item, query))
        answer = np.flatnonzero(w[i])
        np.testing.assert_array_equal(answer, np.arange(q[1] + 1, q[1] + 4))
        np.testing.assert_array_equal(y[i, answer], items[k + 1])


def test_bit_sequence_cost_against_numpy():
    rng = np.random.default_rng(0)
    batch = {k: v[:4] for k, v in copy_sequences(4, 2, 4, seed=1).items()}
    logits = rng.normal(size=batch["target"].shape).astype(np.float32) * 3
    batch["mask"] = np.ones(4, np.float32)
    task = tasks.get("bit_sequence")
    model = type("Fixed", (), {"apply": lambda self, variables, x, train=False: jnp.asarray(logits)})()
    metrics = task.evaluate(model, {}, {}, batch)

    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    t, w = batch["target"], batch["weights"][..., None]
    cost = -(t * np.log2(p) + (1 - t) * np.log2(1 - p))
    expected_cost = (cost * w).sum((1, 2))
    expected_errors = (((p > 0.5) != t) * w).sum((1, 2))
    mean = lambda pair: float(pair[0] / pair[1])
    np.testing.assert_allclose(mean(metrics["loss"]), expected_cost.mean(), rtol=1e-5)
    np.testing.assert_allclose(mean(metrics["bit_errors"]), expected_errors.mean(), rtol=1e-6)
    assert mean(metrics["sequence_accuracy"]) == float((expected_errors == 0).mean())

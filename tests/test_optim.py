"""Learning-rate schedules and optimizers from config, against their closed forms."""
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from deepzoo.train import optim


def _cfg(**fields):
    return ml_collections.ConfigDict({"name": "sgd", "learning_rate": 0.4, **fields})


def test_warmup_then_cosine_as_in_goyal_et_al():
    lr = optim.schedule(_cfg(schedule="cosine", warmup_steps=10), num_steps=110)
    assert float(lr(0)) == 0.0 and math.isclose(float(lr(5)), 0.2, rel_tol=1e-6)
    assert math.isclose(float(lr(10)), 0.4, rel_tol=1e-6)
    assert math.isclose(float(lr(60)), 0.4 * 0.5 * (1 + math.cos(math.pi * 0.5)), rel_tol=1e-5)
    assert abs(float(lr(110))) < 1e-7


def test_step_decay_divides_by_ten_every_period():
    lr = optim.schedule(_cfg(schedule="step", decay_every_steps=30, decay_factor=0.1), num_steps=90)
    for step, expected in ((0, 0.4), (29, 0.4), (30, 0.04), (59, 0.04), (60, 0.004)):
        assert math.isclose(float(lr(step)), expected, rel_tol=1e-5)


def test_rmsprop_matches_its_update_rule():
    cfg = _cfg(name="rmsprop", learning_rate=0.1, rms_decay=0.9, eps=1.0, momentum=0.0)
    tx, _ = optim.create(cfg, num_steps=1)
    params, grad = jnp.array([1.0, -2.0]), jnp.array([0.5, 3.0])
    updates, _ = tx.update(grad, tx.init(params), params)
    nu = 0.1 * np.square(np.asarray(grad))  # optax starts the square average at 0
    np.testing.assert_allclose(updates, -0.1 * np.asarray(grad) / np.sqrt(nu + 1.0), rtol=1e-6)


def test_unknown_schedule_lists_the_known_ones():
    with pytest.raises(KeyError, match="Known schedules: constant, cosine, linear, rsqrt, step"):
        optim.schedule(_cfg(schedule="cosin"), num_steps=10)


def test_numeric_hyperparameters_live_in_the_state_so_one_program_serves_many_values():
    # A sweep vmaps one optimizer over states that each hold their own learning rate, momentum, decay.
    # (zero and non-zero momentum or decay differ in structure: a sweep runs those in separate groups)
    cfgs = [_cfg(learning_rate=lr, momentum=m, weight_decay=wd, schedule="cosine")
            for lr, m, wd in ((0.1, 0.9, 1e-4), (0.03, 0.5, 1e-3), (1.0, 0.7, 1e-2))]
    params, grad = {"w": jnp.array([1.0, -2.0])}, {"w": jnp.array([0.5, 3.0])}
    txs = [optim.create(c, num_steps=10)[0] for c in cfgs]
    states = [tx.init(params) for tx in txs]
    alone = [tx.update(grad, tx.update(grad, s, params)[1], params)[0] for tx, s in zip(txs, states)]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *states)
    twice = lambda s: txs[0].update(grad, txs[0].update(grad, s, params)[1], params)[0]
    together = jax.vmap(twice)(stacked)
    for i, a in enumerate(alone):
        np.testing.assert_array_equal(together["w"][i], a["w"])


def test_a_constant_learning_rate_is_the_textbook_update_bitwise():
    tx, lr = optim.create(_cfg(learning_rate=0.37), num_steps=5)
    params, grad = jnp.array([1.0, -2.0]), jnp.array([0.123, 3.0])
    updates, _ = tx.update(grad, tx.init(params), params)
    np.testing.assert_array_equal(updates, grad * np.float32(-0.37))
    assert float(lr(3)) == pytest.approx(0.37)


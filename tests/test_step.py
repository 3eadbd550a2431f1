"""The generic train step: the same result on 1 and 8 devices, accumulation, EMA, non-finite guard."""
import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from deepzoo import models, tasks
from deepzoo.tasks import metrics as metrics_lib
from deepzoo.train import optim, sharding
from deepzoo.train.state import create_train_state
from deepzoo.train.step import make_eval_step, make_train_step


def batches(num, size=64, features=40, seed=0):
    rng = np.random.default_rng(seed)
    return [{"input": rng.normal(size=(size, features)).astype(np.float32),
             "label": rng.integers(0, 10, size).astype(np.int32)} for _ in range(num)]


def run(devices, *, model_kwargs=(), accum=1, ema_decay=0.0, steps=5, tx=None, data=None,
        keep_states=False):
    """Trains `steps` steps on a mesh over `devices`; returns (final state, or every state, on host;
    per-step metrics)."""
    mesh = sharding.make_mesh(devices)
    model = models.get("mlp", width=32, **dict(model_kwargs))
    task = tasks.get("classification")
    tx = tx or optax.adam(1e-2)
    data = data or batches(steps)
    init = functools.partial(create_train_state, model, tx, data[0]["input"][:1], seed=0, ema=ema_decay > 0)
    state_sharding = jax.tree.map(lambda _: sharding.replicated(mesh), jax.eval_shape(init))
    state = jax.jit(init, out_shardings=state_sharding)()
    step = jax.jit(make_train_step(model, task, tx, seed=0, grad_accum_steps=accum, ema_decay=ema_decay),
                   in_shardings=(state_sharding, sharding.batch_sharded(mesh)),
                   out_shardings=(state_sharding, sharding.replicated(mesh)), donate_argnums=0)
    history, states = [], []
    for batch in data:
        state, metrics = step(state, sharding.global_batch(batch, mesh))
        history.append(metrics)
        states.append(sharding.to_host(state))
    return (states if keep_states else states[-1]), sharding.to_host(history)


def assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=rtol, atol=atol), a, b)


@pytest.mark.parametrize("model_kwargs,accum", [
    ((), 1),
    pytest.param((("batch_norm", True), ("dropout_rate", 0.2)), 1, marks=pytest.mark.slow),   # ~13 s each; the
    pytest.param((), 2, marks=pytest.mark.slow),                                              # last case has both
    ((("batch_norm", True), ("dropout_rate", 0.2)), 4),
], ids=["plain", "batchnorm+dropout", "accumulation", "batchnorm+dropout+accumulation"])
def test_one_device_equals_eight_devices(model_kwargs, accum):
    assert jax.device_count() == 8, "tests/conftest.py asks for 8 fake CPU devices"
    one, m1 = run(jax.devices()[:1], model_kwargs=model_kwargs, accum=accum)
    eight, m8 = run(jax.devices(), model_kwargs=model_kwargs, accum=accum)
    assert_trees_close(one.params, eight.params)
    assert_trees_close(one.model_state, eight.model_state)
    assert_trees_close(m1, m8)


def test_accumulation_equals_one_big_batch():
    # Without BatchNorm or dropout, averaging 4 microbatch gradients is the full-batch gradient.
    full, m_full = run(jax.devices()[:1], accum=1)
    accumulated, m_acc = run(jax.devices()[:1], accum=4)
    assert_trees_close(full.params, accumulated.params, rtol=1e-5, atol=1e-6)
    for a, b in zip(m_full, m_acc):  # metrics are sums and counts: identical however they are split
        np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-5)
        assert a["accuracy"][1] == b["accuracy"][1] == 64


def test_sgd_step_matches_hand_computed_update():
    lr = 0.1
    state, _ = run(jax.devices()[:1], steps=1, tx=optax.sgd(lr))
    model, data, params0 = models.get("mlp", width=32), batches(1)[0], initial_params()
    grads = jax.grad(lambda p: optax.softmax_cross_entropy_with_integer_labels(
        model.apply({"params": p}, data["input"]), data["label"]).mean())(params0)
    assert_trees_close(state.params, jax.tree.map(lambda p, g: p - lr * g, params0, grads), rtol=1e-5)


def initial_params(width=32, features=40):
    """The parameters create_train_state(seed=0) draws."""
    model = models.get("mlp", width=width)
    key = jax.random.split(jax.random.key(0, impl="rbg"))[0]
    return model.init({"params": key}, jnp.ones((1, features)))["params"]


def test_ema_follows_its_recursion():
    decay = 0.9
    states, _ = run(jax.devices()[:1], steps=3, ema_decay=decay, keep_states=True)
    ema = initial_params()  # the average starts at the initial parameters
    for state in states:
        ema = jax.tree.map(lambda e, p: decay * e + (1 - decay) * p, ema, state.params)
        assert_trees_close(state.ema_params, ema, rtol=1e-5, atol=1e-6)


def test_nonfinite_loss_leaves_state_unchanged_and_is_flagged():
    data = batches(2)
    data[1]["input"][3, 0] = np.nan
    before, _ = run(jax.devices()[:1], steps=1, data=data[:1])
    after, history = run(jax.devices()[:1], steps=2, data=data)
    assert history[0]["nonfinite_loss"][0] == 0 and history[1]["nonfinite_loss"][0] == 1
    assert history[1]["nonfinite_grads"][0] == 1
    np.testing.assert_array_equal(jax.tree.leaves(before.params)[0], jax.tree.leaves(after.params)[0])
    assert int(after.step) == 2


def test_gradient_clipping_bounds_the_update():
    cfg = ml_collections.ConfigDict(dict(name="sgd", learning_rate=1.0, grad_clip_norm=1e-3))
    tx, _ = optim.create(cfg, num_steps=1)
    state, history = run(jax.devices()[:1], steps=1, tx=tx)
    delta = optax.global_norm(jax.tree.map(jnp.subtract, state.params, initial_params()))
    assert history[0]["grad_norm"][0] > 1e-3  # clipping was active ...
    np.testing.assert_allclose(delta, 1e-3, rtol=1e-4)  # ... so the SGD step has norm lr * 1e-3


def test_eval_step_counts_only_unmasked_rows():
    model, task = models.get("mlp", width=8), tasks.get("classification")
    state = create_train_state(model, optax.sgd(0.1), jnp.ones((1, 40)), seed=0)
    batch = batches(1, size=8)[0]
    batch["mask"] = np.array([1, 1, 1, 0, 0, 1, 0, 1], np.float32)
    metrics = make_eval_step(model, task)(state, batch)
    logits = model.apply({"params": state.params}, batch["input"])
    keep = batch["mask"] > 0
    expected_loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"])[keep].mean()
    assert float(metrics["loss"][1]) == 5
    np.testing.assert_allclose(metrics_lib.means(metrics)["loss"], expected_loss, rtol=1e-5)


def test_bfloat16_compute_trains_float32_params_close_to_float32_run():
    bf16, m_bf16 = run(jax.devices()[:1], model_kwargs=(("dtype", "bfloat16"),), steps=3)
    f32, m_f32 = run(jax.devices()[:1], steps=3)
    assert all(x.dtype == np.float32 for x in jax.tree.leaves(bf16.params))
    assert all(x.dtype == np.float32 for x in jax.tree.leaves(bf16.opt_state) if x.dtype.kind == "f")
    # bf16 keeps 8 bits of mantissa: the losses agree to about 1%, not bitwise.
    np.testing.assert_allclose(m_bf16[-1]["loss"][0], m_f32[-1]["loss"][0], rtol=2e-2)


def test_overflowing_update_is_caught_even_with_finite_loss_and_gradients():
    state, history = run(jax.devices()[:1], steps=1, tx=optax.sgd(3e38))
    assert history[0]["nonfinite_loss"][0] == 0 and history[0]["nonfinite_grads"][0] == 0
    assert history[0]["nonfinite_update"][0] == 1
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(state.params))


def test_only_the_train_step_takes_gradients_and_applies_updates():
    # DESIGN.md, "One train step": a GAN, a DQN or a PPO learner uses the step instead of forking it.
    import pathlib
    import re

    import deepzoo
    root = pathlib.Path(deepzoo.__file__).parent
    forks = {str(p.relative_to(root)) for p in root.rglob("*.py")
             if re.search(r"value_and_grad|tx\.update|apply_updates", p.read_text())}
    assert forks == {"train/step.py"}

"""Boltzmann machines, RBMs and deep belief nets: energies, learning rules and partition functions against
NumPy enumerations written here."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from deepzoo import models, tasks
from deepzoo.inference import boltzmann as sampling
from deepzoo.models.boltzmann import connectivity_mask
from deepzoo.train.state import create_train_state
from deepzoo.train.step import make_train_step


def _states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def _bm(num_visible=3, num_hidden=2, connectivity="full", seed=0):
    model = models.get("boltzmann_machine", num_visible=num_visible, num_hidden=num_hidden,
                       connectivity=connectivity, init_scale=0.8)
    params = model.init(jax.random.key(seed), jnp.zeros((1, num_visible)))["params"]
    params = {**params, "bias": jax.random.normal(jax.random.key(seed + 1), params["bias"].shape) * 0.5}
    W, b = (np.asarray(a, np.float64) for a in model.apply({"params": params}, method="weights"))
    return model, params, W, b


def test_boltzmann_machine_weights_are_symmetric_with_zero_diagonal_and_no_v1_v2_pairs():
    _, _, W, _ = _bm(8, 2, "encoder")
    assert np.allclose(W, W.T) and np.all(np.diag(W) == 0)
    assert np.all(W[:4, 4:8] == 0) and np.all(W[:4, 8:] != 0) and np.all(W[4:8, 8:] != 0)
    assert np.all((W != 0) == (connectivity_mask(8, 2, "encoder") > 0))
    with pytest.raises(ValueError, match="even number"):
        connectivity_mask(7, 2, "encoder")


def test_exact_boltzmann_gradient_is_the_clamped_minus_free_correlations():
    model, params, W, b = _bm(3, 2)
    data = np.array([[1.0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 1]])
    task = tasks.get("boltzmann", method="exact")
    grads = jax.jit(jax.grad(lambda p: task.loss(model, p, {}, {"input": jnp.asarray(data)}, {})[0]))(params)

    # NumPy: P(s) over the 32 states; the clamped phase P(h | v) for each pattern.
    s = _states(5)
    energy = -0.5 * np.einsum("si,ij,sj->s", s, W, s) - s @ b
    p = np.exp(-energy - np.logaddexp.reduce(-energy))
    free_ss, free_s = np.einsum("s,si,sj->ij", p, s, s), p @ s
    clamped_ss, clamped_s = np.zeros((5, 5)), np.zeros(5)
    for v in data:
        rows = s[np.all(s[:, :3] == v, axis=1)]
        e = -0.5 * np.einsum("si,ij,sj->s", rows, W, rows) - rows @ b
        q = np.exp(-e - np.logaddexp.reduce(-e))
        clamped_ss += np.einsum("s,si,sj->ij", q, rows, rows) / len(data)
        clamped_s += q @ rows / len(data)
    # d(-mean log P(v)) / d w_ij (i < j) = -(<s_i s_j>_clamped - <s_i s_j>_free)
    expected = -np.triu(clamped_ss - free_ss, 1)
    np.testing.assert_allclose(np.asarray(grads["weights"]), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(grads["bias"]), -(clamped_s - free_s), atol=1e-5)


def test_noisy_clamping_flips_on_and_off_units_at_their_rates_and_the_exact_loss_sees_the_flipped_patterns():
    model, params, _, _ = _bm(3, 2)
    task = tasks.get("boltzmann", method="exact", clamp_noise=(0.15, 0.05))
    v = jnp.tile(jnp.array([[1.0, 0.0, 1.0]]), (20000, 1))
    flipped = np.asarray(task.noisy(v, jax.random.key(0)))
    assert abs((flipped[:, [0, 2]] == 0).mean() - 0.15) < 0.01 and abs(flipped[:, 1].mean() - 0.05) < 0.01
    small = v[:4]
    rngs = {"dropout": jax.random.key(3)}
    loss = task.loss(model, params, {}, {"input": small}, rngs)[0]
    seen = task.noisy(small, jax.random.fold_in(rngs["dropout"], 1))
    np.testing.assert_allclose(loss, np.mean(task.nll(model, params, seen)), rtol=1e-6)
    with pytest.raises(ValueError, match="clamp_noise"):
        tasks.get("boltzmann", clamp_noise=(0.15,))


def test_gibbs_conditionals_match_energy_differences_and_chains_reach_the_distribution():
    _, _, W, b = _bm(2, 2, seed=3)
    s = _states(4)
    for i in range(4):
        on, off = s.copy(), s.copy()
        on[:, i], off[:, i] = 1, 0
        e = lambda x: -0.5 * np.einsum("si,ij,sj->s", x, W, x) - x @ b
        expected = 1.0 / (1.0 + np.exp(e(on) - e(off)))
        got = sampling.bm_conditional(jnp.asarray(s, jnp.float32), jnp.asarray(W, jnp.float32),
                                      jnp.asarray(b, jnp.float32), i)
        np.testing.assert_allclose(np.asarray(got), expected, atol=1e-6)
    # 4,000 chains, 20 sweeps: the histogram of the last states is P(s) within sampling error.
    start = jnp.zeros((4000, 4))
    last = sampling.bm_gibbs(jax.random.key(0), start, jnp.asarray(W, jnp.float32), jnp.asarray(b, jnp.float32),
                             jnp.ones(4), 20)[-1]
    counts = np.bincount((np.asarray(last) @ (2 ** np.arange(3, -1, -1))).astype(int), minlength=16) / 4000
    energy = -0.5 * np.einsum("si,ij,sj->s", s, W, s) - s @ b
    p = np.exp(-energy - np.logaddexp.reduce(-energy))
    assert 0.5 * np.abs(counts - p).sum() < 0.05


def test_clamped_gibbs_keeps_the_visible_units():
    _, _, W, b = _bm(3, 2)
    start = jnp.asarray([[1.0, 0, 1, 0, 0]] * 5)
    states = sampling.bm_gibbs(jax.random.key(1), start, jnp.asarray(W, jnp.float32), jnp.asarray(b, jnp.float32),
                               jnp.asarray([0.0, 0, 0, 1, 1]), 3)
    assert np.all(np.asarray(states)[..., :3] == [1, 0, 1])


def _rbm(visible=6, hidden=4, scale=0.5, seed=0):
    model = models.get("rbm_mnist", num_visible=visible, num_hidden=hidden, init_scale=scale)
    params = model.init(jax.random.key(seed), jnp.zeros((1, visible)))["params"]
    k1, k2 = jax.random.split(jax.random.key(seed + 1))
    params = {**params, "bias": jax.random.normal(k1, (hidden,)) * 0.5,
              "visible_bias": jax.random.normal(k2, (visible,)) * 0.5}
    W, b, c = (np.asarray(a, np.float64) for a in model.apply({"params": params}, method="arrays"))
    return model, params, W, b, c


def test_rbm_free_energy_and_log_partition_against_enumeration():
    model, params, W, b, c = _rbm()
    v, h = _states(6), _states(4)
    energy = -(v @ W @ h.T) - (v @ b)[:, None] - (h @ c)[None, :]          # E(v, h): (64, 16)
    free = -np.logaddexp.reduce(-energy, axis=1)
    np.testing.assert_allclose(np.asarray(model.apply({"params": params}, jnp.asarray(v, jnp.float32))), free,
                               rtol=1e-5, atol=1e-5)
    log_z = np.logaddexp.reduce(-energy.ravel())
    arrays = [jnp.asarray(a, jnp.float32) for a in (W, b, c)]
    assert abs(float(sampling.rbm_log_partition(*arrays, chunk=4)) - log_z) < 1e-4


def test_cd1_gradient_is_the_data_minus_reconstruction_correlations():
    model, params, W, b, c = _rbm(seed=2)
    x = np.asarray(jax.random.bernoulli(jax.random.key(5), 0.5, (8, 6)), np.float32)
    task = tasks.get("contrastive_divergence", steps=1, binarize=0.5)
    key = jax.random.key(7)
    v1 = np.asarray(task.negative_sample(model, params, {}, jnp.asarray(x), key), np.float64)
    grads = jax.jit(jax.grad(lambda p: task.loss(model, p, {}, {"input": jnp.asarray(x)}, {"dropout": key})[0]))(params)
    sigmoid = lambda a: 1 / (1 + np.exp(-a))
    h0, h1 = sigmoid(x @ W + c), sigmoid(v1 @ W + c)
    n = len(x)
    # dW ~ <v h>_data - <v h>_1: the loss's gradient is its negative.
    np.testing.assert_allclose(np.asarray(grads["kernel"]), -(x.T @ h0 - v1.T @ h1) / n, atol=1e-5)
    np.testing.assert_allclose(np.asarray(grads["bias"]), -(h0 - h1).mean(0), atol=1e-5)
    np.testing.assert_allclose(np.asarray(grads["visible_bias"]), -(x - v1).mean(0), atol=1e-5)


@pytest.mark.slow   # ~15 s on 2 cores
def test_ais_matches_the_exact_log_partition_of_a_small_rbm():
    _, _, W, b, c = _rbm(visible=64, hidden=10, scale=0.3, seed=4)
    arrays = [jnp.asarray(a, jnp.float32) for a in (W, b, c)]
    exact = float(sampling.rbm_log_partition(*arrays))
    data = jax.random.bernoulli(jax.random.key(0), 0.3, (200, 64)).astype(jnp.float32)
    estimate, log_w = sampling.rbm_ais(jax.random.key(1), *arrays, sampling.base_rate_bias(data),
                                       sampling.ais_betas(1000), runs=100)
    assert log_w.shape == (100,)
    assert abs(float(estimate) - exact) < 0.1, (float(estimate), exact)


def test_ais_schedule_and_enumeration_limits():
    betas = np.asarray(sampling.ais_betas(1450))
    assert betas[0] == 0 and betas[-1] == 1 and np.all(np.diff(betas) > 0) and len(betas) == 1451
    with pytest.raises(ValueError, match="at least 10"):
        sampling.ais_betas(3)
    with pytest.raises(ValueError, match="annealed importance sampling"):
        sampling.all_states(40)


def _state(model, task, x, tx=None):
    tx = tx or optax.sgd(0.1)
    return create_train_state(model, tx, task.inputs({"input": x}), seed=0), tx


def test_persistent_cd_carries_its_chains_through_the_train_step():
    x = jax.random.bernoulli(jax.random.key(0), 0.5, (4, 6)).astype(jnp.float32)
    model = models.get("rbm_mnist", num_visible=6, num_hidden=3, persistent_chains=5)
    task = tasks.get("contrastive_divergence", steps=2, persistent=True)
    state, tx = _state(model, task, x)
    assert state.model_state["chains"]["visible"].shape == (5, 6)
    step = jax.jit(make_train_step(model, task, tx, seed=0))
    new, metrics = step(state, {"input": x})
    chains = new.model_state["chains"]["visible"]
    expected = task.negative_sample(model, state.params, state.model_state, None,
                                    jax.random.fold_in(jax.random.key(0), 0))
    np.testing.assert_array_equal(np.asarray(chains), np.asarray(expected))
    assert set(metrics) >= {"loss", "free_energy", "reconstruction"}
    plain = models.get("rbm_mnist", num_visible=6, num_hidden=3)
    with pytest.raises(ValueError, match="persistent_chains"):
        task.loss(plain, plain.init(jax.random.key(0), x)["params"], {}, {"input": x}, {"dropout": jax.random.key(0)})


def test_dbn_trains_only_its_top_rbm_on_the_hidden_probabilities_below():
    x = jax.random.uniform(jax.random.key(0), (4, 6))
    model = models.get("dbn_mnist", sizes=(6, 5, 3), layer=1)
    task = tasks.get("contrastive_divergence")
    params = model.init(jax.random.key(1), x)["params"]
    assert set(params) == {"hidden_0", "hidden_1"}
    grads = jax.jit(jax.grad(lambda p: task.loss(model, p, {}, {"input": x}, {"dropout": jax.random.key(2)})[0]))(params)
    assert all(float(jnp.abs(g).max()) == 0 for g in jax.tree.leaves(grads["hidden_0"]))
    assert float(jnp.abs(grads["hidden_1"]["kernel"]).max()) > 0
    up = model.apply({"params": params}, task.inputs({"input": x})[0], method="visible")
    p0 = params["hidden_0"]
    binary = (np.asarray(x) > 0.5).astype(np.float32)
    np.testing.assert_allclose(np.asarray(up), 1 / (1 + np.exp(-(binary @ p0["kernel"] + p0["bias"]))), rtol=1e-5)
    with pytest.raises(ValueError, match="layer"):
        models.get("dbn_mnist", sizes=(6, 5, 3), layer=2).init(jax.random.key(0), x)


def test_rbm_names_the_visible_size_to_set():
    with pytest.raises(ValueError, match="num_visible=10"):
        models.get("rbm_mnist").init(jax.random.key(0), jnp.zeros((1, 10)))


@pytest.mark.parametrize("config_name, variants", [("rbm", ("cd1", "cd10", "pcd", "cd1_h20")),
                                                   ("dbn", ("rbm0", "rbm1", "finetune", "scratch"))])
def test_configs_build_their_models_and_tasks(config_name, variants):
    from deepzoo import config as config_lib
    for variant in variants:
        config = config_lib.load(f"configs/{config_name}.py:{variant},smoke")
        model = models.get(config.model.name, **config.model.kwargs)
        tasks.get(config.task.name, **config.task.kwargs)
        x = jnp.zeros((2, 28, 28, 1))
        variables = jax.eval_shape(lambda: model.init(jax.random.key(0), x))
        if config_name == "dbn" and variant == "rbm1":
            assert set(variables["params"]) == {"hidden_0", "hidden_1"}
            assert dict(config.optimizer.layer_lr) == {"hidden_0": 0.0} and config.init_from.layers == ("hidden_0",)
        if variant == "pcd":
            assert variables["chains"]["visible"].shape == (config.batch_size, 784)
    with pytest.raises(ValueError, match="unknown variant"):
        config_lib.load("configs/rbm.py:cd2")


@pytest.mark.slow
def test_rbm_experiment_writes_its_table_and_figures(run_experiment):
    out = run_experiment("rbm.py", "--variant=smoke", "--ais_runs=10", "--ais_temperatures=100", "--sample_steps=5")
    table = (out / "results.md").read_text()
    assert "| CD-10 |" in table and "| PCD |" in table and "Salakhutdinov & Murray 2008" in table
    assert (out / "filters.png").stat().st_size > 0 and (out / "samples.png").stat().st_size > 0


@pytest.mark.slow
def test_dbn_experiment_writes_its_table_and_samples(run_experiment):
    out = run_experiment("dbn.py", "--variant=smoke", "--labels=20,0", "--seeds=1")
    table = (out / "results.md").read_text()
    assert "| 20 |" in table and "4,000 (all)" in table and "pre-trained DBN" in table
    assert (out / "samples.png").stat().st_size > 0


@pytest.mark.slow
def test_boltzmann_encoder_experiment_writes_its_table_and_figure(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path
    root, out = Path(__file__).resolve().parents[1], tmp_path / "out"   # no runs to keep: no --workdir
    result = subprocess.run([sys.executable, str(root / "experiments" / "boltzmann.py"), "--runs=2", "--steps=20",
                             f"--output_dir={out}"], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    table = (out / "results.md").read_text()
    assert "exact gradient" in table and "Gibbs-sampling estimate" in table and "/ 2 |" in table
    assert (out / "encoder.png").stat().st_size > 0

"""The echo state network: the reservoir's spectral radius and sparsity as configured, the echo state property,
states and the least-squares readout (with its washout) against a NumPy loop, closed-loop generation; the
Mackey-Glass series against its fixed point."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import data, models
from deepzoo.data.series import mackey_glass
from deepzoo.tasks.least_squares import LeastSquares
from deepzoo.train import fit


def _esn(n=60, **kwargs):
    model = models.get("esn", reservoir_size=n, **{"connectivity": 0.2, **kwargs})
    return model, model.init(jax.random.key(0), jnp.zeros((1, 5, 1)))


def test_reservoir_has_the_configured_spectral_radius_and_sparsity():
    _, variables = _esn(200, spectral_radius=0.8, connectivity=0.05)
    w = np.asarray(variables["params"]["reservoir"], np.float64)
    assert abs(np.abs(np.linalg.eigvals(w)).max() - 0.8) < 1e-4
    assert abs((w != 0).mean() - 0.05) < 0.01


def test_echo_state_property_two_initial_states_converge_under_the_same_input():
    model, variables = _esn(spectral_radius=0.9)
    u = jnp.asarray(np.sin(np.arange(300) / 5.0)[None, :, None], jnp.float32)
    a = model.apply(variables, u, jax.random.uniform(jax.random.key(1), (1, 60), minval=-1, maxval=1), method="states")
    b = model.apply(variables, u, jnp.zeros((1, 60)), method="states")
    gap = np.abs(np.asarray(a - b)).max(-1)[0]
    assert gap[0] > 0.1 and gap[-1] < 1e-5 * gap[0]


def test_states_and_the_washed_out_ridge_readout_against_numpy():
    model, variables = _esn(40, leak_rate=0.5)
    p = {k: np.asarray(v, np.float64) for k, v in
         {"w": variables["params"]["reservoir"], "w_in": variables["params"]["input_weights"]["kernel"],
          "b": variables["params"]["input_weights"]["bias"]}.items()}
    rng = np.random.default_rng(0)
    u = rng.uniform(-1, 1, (3, 50, 1)).astype(np.float32)
    target = np.roll(u, -1, axis=1)                               # predict the next input
    x, states = np.zeros((3, 40)), []
    for t in range(50):
        x = 0.5 * x + 0.5 * np.tanh(u[:, t] @ p["w_in"] + p["b"] + x @ p["w"])
        states.append(x)
    states = np.stack(states, 1)
    np.testing.assert_allclose(model.apply(variables, jnp.asarray(u), method="states"), states, atol=1e-5)

    batches = lambda: data.eval_batches(data.ArraySource({"input": u, "target": target}), global_batch_size=2)
    fitted = fit.fit(model, LeastSquares(ridge=1e-2, washout=10, float64=True), variables, batches)
    h = np.c_[np.concatenate([states, u], -1)[:, 10:].reshape(-1, 41), np.ones(3 * 40)]
    y = target[:, 10:].reshape(-1, 1)
    expected = np.linalg.solve(h.T @ h + 1e-2 * np.diag([1.0] * 41 + [0.0]), h.T @ y)
    np.testing.assert_allclose(fitted["params"]["readout"]["kernel"], expected[:-1], rtol=1e-4, atol=1e-5)
    assert fitted["params"]["readout"]["kernel"].dtype == jnp.float32   # float64 inside the fit only
    with pytest.raises(ValueError, match="washout"):
        fit.fit(model, LeastSquares(washout=50), variables, batches)


def test_generation_starts_from_the_teacher_forced_prediction_and_feeds_itself_back():
    model, variables = _esn(30)
    u = jnp.asarray(np.cos(np.arange(40) / 3.0)[None, :, None], jnp.float32)
    generated = model.apply(variables, u, 3, method="generate")
    np.testing.assert_allclose(generated[:, 0], model.apply(variables, u)[:, -1], atol=1e-6)
    # Closed loop = teacher forcing on the network's own outputs.
    extended = jnp.concatenate([u, generated[:, :2]], 1)
    np.testing.assert_allclose(generated[:, 1:], model.apply(variables, extended)[:, -2:], atol=1e-5)


def test_mackey_glass_settles_at_its_fixed_point_for_a_short_delay_and_is_chaotic_at_tau_17():
    np.testing.assert_allclose(mackey_glass(50, tau=2.0)[-10:], 1.0, atol=1e-6)   # x* = (0.2/0.1 - 1)^(1/10)
    x = mackey_glass(2000)
    assert 0.3 < x.min() < 0.5 and 1.2 < x.max() < 1.4 and x.std() > 0.2          # the attractor's range
    assert np.abs(x[1000:] - x[:1000]).max() > 0.3                                 # no period of 1,000


@pytest.mark.slow
def test_esn_experiment_writes_its_table_and_figure(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path
    root, out = Path(__file__).resolve().parents[1], tmp_path / "out"   # no runs to keep: no --workdir
    result = subprocess.run([sys.executable, str(root / "experiments" / "esn.py"), "--sizes=20,40", "--seeds=1",
                             "--starts=3", "--washout=100", f"--output_dir={out}"], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| 20 |" in (out / "results.md").read_text() and (out / "esn.png").stat().st_size > 0

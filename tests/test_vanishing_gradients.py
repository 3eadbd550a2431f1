"""The vanishing-gradients experiment: its exact state gradients against closed forms and NumPy BPTT, the
physics it shows (vanish, explode, the LSTM's open forget gate), and its files from a tiny run."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo.layers.recurrent import RNN, LSTMCell

# experiments/ is not a package (nothing in the library imports it), so load the driver by path.
_PATH = Path(__file__).resolve().parents[1] / "experiments" / "vanishing_gradients.py"
_spec = importlib.util.spec_from_file_location("vanishing_gradients", _PATH)
vg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vg)

B, T, H, D = 3, 12, 8, 3


def _inputs(scale=0.5, seed=0, length=T):
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal((B, length, D))).astype(np.float32), \
        rng.standard_normal(H).astype(np.float32)


@pytest.mark.parametrize("a", [0.7, 1.0, 1.3])
def test_linear_rnn_gradient_is_a_to_the_distance(a):
    # h_t = h_{t-1} (a Q) + x_t Wx + b, so dL/dh_{t-1} = dL/dh_t (a Q)^T and ||dL/dh_{T-k}|| = a^k ||dL/dh_T||.
    cell, params = vg.init_network("linear", a, H, D)
    x, v = _inputs()
    g = np.asarray(vg.state_gradients(cell, params, jnp.asarray(x), jnp.asarray(v)))
    assert g.shape == (B, T, H)
    np.testing.assert_allclose(g[:, -1], np.broadcast_to(v, (B, H)), rtol=1e-6)   # dL/dh_T = v
    norms = np.linalg.norm(g, axis=-1)
    distance = T - 1 - np.arange(T)
    np.testing.assert_allclose(norms, np.linalg.norm(v) * a ** distance[None, :].astype(np.float64) * np.ones((B, 1)),
                               rtol=1e-4)
    # The vectors too: backwards, each step multiplies by Wh^T.
    Wh = np.asarray(params["Wh"], np.float64)
    np.testing.assert_allclose(g[:, 0], v @ np.linalg.matrix_power(Wh.T, T - 1) * np.ones((B, 1)),
                               rtol=1e-4, atol=1e-6)


def test_tanh_rnn_matches_numpy_bptt_and_stays_under_the_linear_bound():
    a = 1.4
    cell, params = vg.init_network("rnn", a, H, D, seed=1)
    x, v = _inputs(scale=0.8, seed=1)
    g = np.asarray(vg.state_gradients(cell, params, jnp.asarray(x), jnp.asarray(v)))

    # Independent reference: the forward pass and a hand-written backward pass, in NumPy float64.
    Wx, Wh, b = (np.asarray(params[k], np.float64) for k in ("Wx", "Wh", "b"))
    h = np.zeros((B, H))
    hs = []
    for t in range(T):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    expected = np.zeros((B, T, H))
    expected[:, -1] = v
    for t in range(T - 1, 0, -1):   # dL/dh_{t-1} = (dL/dh_t * tanh'(.)) Wh^T, tanh' = 1 - h_t^2
        expected[:, t - 1] = (expected[:, t] * (1.0 - hs[t] ** 2)) @ Wh.T
    np.testing.assert_allclose(g, expected, rtol=2e-4, atol=1e-7)

    # ||diag(tanh') Wh^T|| <= a, so every sample stays under the linear closed form a^(T - t).
    norms = np.linalg.norm(g, axis=-1) / np.linalg.norm(v)
    assert np.all(norms <= a ** (T - 1 - np.arange(T)) * (1 + 1e-4))


def test_lstm_cell_path_closed_form():
    # With Wh = 0 the gates see only x, and c_t reaches the loss only through c_{t+1} = f_{t+1} c_t + ...
    # and finally h_T = o_T tanh(c_T): dL/dc_t = v o_T (1 - tanh(c_T)^2) prod_{s=t+1..T} f_s, dL/dh_t = 0 (t < T).
    forget_bias = 2.0
    cell, params = vg.init_network("lstm", forget_bias, H, D, seed=2)
    params = {**params, "Wh": jnp.zeros_like(params["Wh"])}
    x, v = _inputs(seed=2)
    dc, dh = (np.asarray(g, np.float64) for g in vg.state_gradients(cell, params, jnp.asarray(x), jnp.asarray(v)))

    Wx, b = np.asarray(params["Wx"], np.float64), np.asarray(params["b"], np.float64)
    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))
    a_i, a_f, a_o, a_g = np.split(x.astype(np.float64) @ Wx + b, 4, axis=-1)   # (B, T, H) each
    f = sigmoid(a_f)
    c = np.zeros((B, H))
    for t in range(T):
        c = f[:, t] * c + sigmoid(a_i[:, t]) * np.tanh(a_g[:, t])
    expected = np.zeros((B, T, H))
    expected[:, T - 2] = v * sigmoid(a_o[:, -1]) * (1.0 - np.tanh(c) ** 2) * f[:, -1]
    for t in range(T - 3, -1, -1):
        expected[:, t] = expected[:, t + 1] * f[:, t + 1]
    # dL/dc_T itself is 0: a change of c after step T reaches no loss (h_T was computed before it).
    np.testing.assert_allclose(dc, expected, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(dh[:, :-1], 0.0, atol=1e-9)
    np.testing.assert_allclose(dh[:, -1], np.broadcast_to(v, (B, H)), rtol=1e-6)
    assert np.mean(f) > 0.8   # the bias opened the gate: sigmoid(2) = 0.88 give or take the input


def test_lstm_matches_gradients_through_the_library_rnn_from_each_carry():
    # An independent route: run the library's RNN up to step t, then differentiate h_T w.r.t. the carry it
    # starts the rest of the sequence from (initial_carry); that is dL/d(c_t, h_t) by definition.
    forget_bias = 1.0
    cell, params = vg.init_network("lstm", forget_bias, H, D, seed=3)
    x, v = _inputs(seed=3)
    dc, dh = vg.state_gradients(cell, params, jnp.asarray(x), jnp.asarray(v))
    # The same network through LSTMCell's own forget_bias field: b's forget block holds the bias instead.
    rnn = RNN(LSTMCell(H, forget_bias=forget_bias))
    variables = {"params": {"cell": {**params, "b": params["b"].at[H:2 * H].add(-forget_bias)}}}
    for t in (1, 5, T - 1):
        carry_t, _ = rnn.apply(variables, x[:, :t])
        loss = lambda carry: jnp.sum(rnn.apply(variables, x[:, t:], initial_carry=carry)[0][1] @ v)
        want_c, want_h = jax.grad(loss)(carry_t)
        np.testing.assert_allclose(dc[:, t - 1], want_c, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(dh[:, t - 1], want_h, rtol=1e-4, atol=1e-7)


def test_the_physics_vanish_explode_and_the_open_forget_gate():
    sizes = dict(length=40, features=16, input_features=4, batch=8, input_scale=0.25)
    ratio = lambda kind, value, key="h": vg.measure(kind, value, **sizes)[key][:, 0].mean()
    small, orthogonal, large = ratio("rnn", 0.5), ratio("rnn", 1.0), ratio("rnn", 3.0)
    assert small <= 0.5 ** 39                  # the linear bound: vanishes at least as fast as 0.5^k
    assert orthogonal < 0.1                    # tanh' < 1 makes even an orthogonal Wh lose gradient
    assert large > 100.0                       # radius 3: grows back through time
    lstm_closed, lstm_open = ratio("lstm", 0.0, "c"), ratio("lstm", 5.0, "c")
    assert lstm_open > 1e3 * orthogonal        # the open forget gate carries it back almost untouched
    assert lstm_open > 1e3 * lstm_closed       # f = sigmoid(0) = 0.5 halves it every step
    assert lstm_open > 0.1


def test_bad_input_errors_name_the_problem():
    cell, params = vg.init_network("rnn", 1.0, H, D)
    with pytest.raises(ValueError, match="batch, time, features"):
        vg.state_gradients(cell, params, jnp.zeros((T, D)), jnp.zeros(H))
    with pytest.raises(ValueError, match=r"readout must have shape \(H,\) = \(8,\)"):
        vg.state_gradients(cell, params, jnp.zeros((B, T, D)), jnp.zeros(H + 1))
    with pytest.raises(ValueError, match="unknown network kind 'gru'"):
        vg.init_network("gru", 1.0, H, D)
    with pytest.raises(ValueError, match="positive clipping thresholds"):
        vg.train_sign_memory(max_norms=(0.0,))


@pytest.mark.slow   # the experiment end to end, ~12 s
def test_run_writes_the_figure_and_tables(tmp_path):
    result = vg.run(tmp_path, **dict(vg.QUICK, scales=(0.9, 1.0, 1.5), forget_biases=(0.0, 3.0), train_steps=5))
    rows = result["networks"]
    assert [r["network"] for r in rows] == ["tanh RNN, Wh = 0.9 Q", "tanh RNN, Wh = 1 Q", "tanh RNN, Wh = 1.5 Q",
                                            "LSTM, forget bias +0", "LSTM, forget bias +3"]
    np.testing.assert_allclose([r["sigma_max"] for r in rows[:3]], [0.9, 1.0, 1.5], rtol=1e-5)
    assert rows[0]["ratio_h"] < rows[1]["ratio_h"] < rows[2]["ratio_h"]
    T_quick = vg.QUICK["length"]
    assert all(len(c) == T_quick for c in result["curves"].values())
    sgd, clipped = result["training"]["sgd"], result["training"]["clipped"]
    assert sgd["loss"].shape == clipped["grad_norm"].shape == (vg.QUICK["seeds"], 5)
    # Same weights and batches: the first step sees the same loss and raw gradient with and without clipping,
    # that gradient is longer than max_norm = 1, so the clipped step is shorter and the runs part ways.
    np.testing.assert_allclose(sgd["loss"][:, 0], clipped["loss"][:, 0], rtol=1e-6)
    np.testing.assert_allclose(sgd["grad_norm"][:, 0], clipped["grad_norm"][:, 0], rtol=1e-6)
    assert np.all(sgd["grad_norm"][:, 0] > 1.0)
    assert not np.allclose(sgd["loss"][:, 1:], clipped["loss"][:, 1:])

    png = (tmp_path / "gradient_flow.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    csv_lines = (tmp_path / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("network,kind,value,sigma_max,ratio_h,ratio_c") and len(csv_lines) == 1 + 5
    curves = (tmp_path / "gradient_norms.csv").read_text().splitlines()
    assert len(curves) == 1 + T_quick and curves[1].startswith("1,")
    markdown = (tmp_path / "results.md").read_text()
    assert "gradient_flow.png" in markdown and "| tanh RNN, Wh = 1.5 Q | 1.5 |" in markdown
    assert vg.gradient_sentence(rows) in markdown
    assert vg.clipping_sentence(result["training"], dict(learning_rate=0.1, max_norm=1.0, seeds=2)) in markdown


@pytest.mark.slow
def test_command_line_quick_mode(tmp_path):
    subprocess.run([sys.executable, str(_PATH), "--quick", f"--output_dir={tmp_path}"], check=True,
                   cwd=_PATH.parents[1], capture_output=True, timeout=300)
    assert (tmp_path / "gradient_flow.png").exists() and (tmp_path / "results.md").exists()


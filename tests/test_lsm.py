"""The liquid state machine: its integrate-and-fire dynamics against a NumPy loop of the same equations, the
closed-form firing period under constant drive, the paper's wiring statistics, the spike-bit data and the experiment."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import data, models
from deepzoo.data.spikes import spike_bits, templates
from deepzoo.models import lsm


def _numpy_liquid(params, u):
    """The module docstring's equations, step by step, in float32 as the model computes."""
    w, w_in, inh = (np.asarray(params[k], np.float32) for k in ("recurrent", "input_weights", "inhibitory"))
    n = len(inh)
    v = np.tile(np.asarray(params["initial_potential"], np.float32), (u.shape[0], 1))
    refractory = np.zeros_like(v, dtype=np.int32)
    i_exc, i_inh, s, filtered = (np.zeros_like(v) for _ in range(4))
    spikes, traces = [], []
    for t in range(u.shape[1]):
        i_exc = i_exc * np.float32(math.exp(-1 / 3)) + (s * (1 - inh)) @ w + u[:, t] @ w_in
        i_inh = i_inh * np.float32(math.exp(-1 / 6)) + (s * inh) @ w
        v = v + (-v + np.float32(13.5) + i_exc + i_inh) / np.float32(30)
        v = np.where(refractory > 0, np.float32(13.5), v)
        s = (v >= 15).astype(np.float32)
        v = np.where(s > 0, np.float32(13.5), v)
        refractory = np.where(s > 0, np.where(inh > 0, 2, 3), np.maximum(refractory - 1, 0))
        filtered = filtered * np.float32(math.exp(-1 / 30)) + s
        spikes.append(s)
        traces.append(filtered)
    assert n == w.shape[0]
    return np.stack(spikes, 1), np.stack(traces, 1)


def test_liquid_spikes_and_readout_features_match_a_numpy_loop():
    model = models.get("lsm", grid=(3, 2, 2), weight_scale=0.5)
    u = spike_bits(3, segments=3, segment_ms=20, spikes=2, jitter=2.0)["input"]
    variables = jax.jit(model.init)(jax.random.key(1, impl="rbg"), jnp.zeros((1, 60, 4)))
    spikes, filtered = _numpy_liquid(variables["params"], u.astype(np.float32))
    got, got_filtered = jax.jit(lambda v, u: model.apply(v, u, method="_run"))(variables, jnp.asarray(u))
    assert spikes.sum() > 20                                   # the liquid is active, not silent
    np.testing.assert_array_equal(got, spikes)
    np.testing.assert_allclose(got_filtered, filtered, rtol=1e-5)


def test_constant_drive_fires_with_the_closed_form_period():
    """One neuron, no recurrence, a constant current I: from reset, V_t = V_inf + (13.5 - V_inf)(1 - 1/30)^t
    (Euler steps of tau_m = 30 ms), so it fires when that reaches 15 mV, then rests for the refractory period."""
    model = models.get("lsm", grid=(1, 1, 1), num_inputs=1)
    variables = jax.jit(model.init)(jax.random.key(0, impl="rbg"), jnp.zeros((1, 5, 1)))
    params = {**variables["params"], "recurrent": jnp.zeros((1, 1)), "inhibitory": jnp.zeros((1,)),
              "initial_potential": jnp.full((1,), 13.5), "input_weights": jnp.full((1, 1), 2.0)}
    spikes = np.asarray(jax.jit(lambda p, u: model.apply({"params": p}, u, method="spikes"))(
        params, jnp.ones((1, 400, 1))))[0, :, 0]
    current = 2.0 / (1 - math.exp(-1 / 3))                      # the input synapse's steady current, nA
    v_inf = 13.5 + current
    climb = math.ceil(math.log((v_inf - 15) / (v_inf - 13.5)) / math.log(1 - 1 / 30))
    intervals = np.diff(np.flatnonzero(spikes))
    assert len(intervals) > 10 and (intervals[5:] == climb + 3).all()   # 3 refractory steps, then the climb


def test_wiring_follows_the_papers_statistics():
    model = models.get("lsm", grid=(15, 6, 6))                  # 540 neurons: enough pairs to count
    p = jax.jit(model.init)(jax.random.key(0, impl="rbg"), jnp.zeros((1, 2, 4)))["params"]
    w, inh = np.asarray(p["recurrent"]), np.asarray(p["inhibitory"]).astype(bool)
    assert inh.mean() == 0.2 and (w[inh] <= 0).all() and (w[~inh] >= 0).all()   # Dale's law by presynaptic type
    positions = lsm.grid_positions((15, 6, 6))
    d2 = ((positions[:, None] - positions[None]) ** 2).sum(-1)
    pairs = (~inh[:, None]) & (~inh[None]) & (d2 == 1)          # E -> E neighbours
    assert abs((w[pairs] != 0).mean() - 0.3 * math.exp(-1 / 4)) < 0.02
    assert abs(w[pairs][w[pairs] != 0].mean() - 30.0) < 2.0    # Gamma weights of mean A_EE = 30 nA
    assert (np.diag(w) == 0).all()


def test_spike_bits_send_each_bit_as_its_template_and_are_deterministic():
    exact = spike_bits(20, segments=3, segment_ms=30, jitter=0.0, seed=1)
    patterns = templates(2, 4, 30, 2, 0)
    for i in range(20):
        for k, bit in enumerate(exact["bits"][i]):   # without jitter, segment k is template b_k
            expected = np.zeros((30, 4), np.uint8)
            for c, times in enumerate(patterns[bit]):
                expected[times, c] = 1
            np.testing.assert_array_equal(exact["input"][i, 30 * k:30 * (k + 1)], expected)
    jittered = spike_bits(20, segments=3, segment_ms=30, jitter=3.0, seed=1)
    np.testing.assert_array_equal(jittered["bits"], exact["bits"])
    assert not np.array_equal(jittered["input"], exact["input"])
    np.testing.assert_array_equal(jittered["input"], spike_bits(20, segments=3, segment_ms=30, jitter=3.0, seed=1)["input"])


def test_spike_bits_named_splits_ask_their_questions_at_the_last_step():
    source = data.load("spike_bits", "validation")
    target, weights, bits = (source.arrays[k].astype(int) for k in ("target", "weights", "bits"))
    assert len(source) == 500 and (weights[:, -1] == 1).all() and weights[:, :-1].sum() == 0
    assert not target[:, :-1].any()
    expected = [bits[:, -1], bits[:, -2], bits[:, -3], bits[:, -1] ^ bits[:, -2], bits[:, -1] ^ bits[:, -2] ^ bits[:, -3]]
    np.testing.assert_array_equal(target[:, -1], np.stack(expected, 1))


@pytest.mark.slow
def test_lsm_experiment_writes_its_table_and_figure(run_experiment):
    out = run_experiment("lsm.py", "--variant=smoke")
    table = (out / "results.md").read_text()
    assert all(f"| {name} |" in table for name in ("input", "lsm", "esn", "gru"))
    assert (out / "lsm.png").stat().st_size > 0

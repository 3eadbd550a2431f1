"""Recurrent layers against NumPy written here: CS231n's LSTM step (forward and backward through time),
hand-derived GRU and vanilla-RNN backward passes, PyTorch's documented equations, masks, stacking, errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo.layers.recurrent import (RNN, Bidirectional, GRUCell, LSTMCell, SimpleRNNCell, StackedRNN,
                                      gru_params_from_torch, lengths_to_mask, lstm_params_from_torch)

B, T, D, H = 3, 5, 4, 6


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ------------------------ the LSTM step of Stanford CS231n's assignment 3 (lstm_step_forward, lstm_step_backward)

def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    N, H = prev_h.shape
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b                                          # 1
    ai, af, ao, ag = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]           # 2
    i, f, o, g = sigmoid(ai), sigmoid(af), sigmoid(ao), np.tanh(ag)                     # 3
    next_c = f * prev_c + i * g                                                         # 4
    next_h = o * np.tanh(next_c)                                                        # 5
    cache = i, f, o, g, a, ai, af, ao, ag, Wx, Wh, b, prev_h, prev_c, x, next_c, next_h
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    i, f, o, g, a, ai, af, ao, ag, Wx, Wh, b, prev_h, prev_c, x, next_c, next_h = cache
    dnext_c = dnext_c.copy()   # an in-place `+=` would otherwise modify the caller's array
    do = np.tanh(next_c) * dnext_h                                                      # into 5
    dnext_c += o * (1 - np.tanh(next_c) ** 2) * dnext_h
    df, dprev_c, di, dg = prev_c * dnext_c, f * dnext_c, g * dnext_c, i * dnext_c       # into 4
    dai = sigmoid(ai) * (1 - sigmoid(ai)) * di                                          # into 3
    daf = sigmoid(af) * (1 - sigmoid(af)) * df
    dao = sigmoid(ao) * (1 - sigmoid(ao)) * do
    dag = (1 - np.tanh(ag) ** 2) * dg
    da = np.hstack((dai, daf, dao, dag))                                                # into 2
    db = np.sum(da, axis=0)                                                             # into 1
    dprev_h = np.dot(Wh, da.T).T
    dWh = np.dot(prev_h.T, da)
    dx = np.dot(da, Wx.T)
    dWx = np.dot(x.T, da)
    return dx, dprev_h, dprev_c, dWx, dWh, db


# ---------------------------------------------------------------- vanilla RNN and GRU steps, derived by hand

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(0)


def gru_step_forward(x, prev_h, Wx, Wh, bx, bh):
    xr, xz, xn = np.split(x @ Wx + bx, 3, axis=1)
    hr, hz, hn = np.split(prev_h @ Wh + bh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    next_h = (1 - z) * n + z * prev_h
    return next_h, (x, prev_h, Wx, Wh, r, z, n, hn)


def gru_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, r, z, n, hn = cache
    dn, dz, dprev_h = dnext_h * (1 - z), dnext_h * (prev_h - n), dnext_h * z
    dan = dn * (1 - n ** 2)               # pre-activation of n
    dar = dan * hn * r * (1 - r)          # through r * hn
    daz = dz * z * (1 - z)
    dxa = np.hstack([dar, daz, dan])      # gradient of x Wx + bx
    dha = np.hstack([dar, daz, dan * r])  # gradient of h Wh + bh
    dprev_h = dprev_h + dha @ Wh.T
    return dxa @ Wx.T, dprev_h, x.T @ dxa, prev_h.T @ dha, dxa.sum(0), dha.sum(0)


# ---------------------------------------------------------------- whole sequences in NumPy

def np_lstm(x, h0, c0, Wx, Wh, b):
    h, c, hs, caches = h0, c0, [], []
    for t in range(x.shape[1]):
        h, c, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs, 1), (c, h), caches


def np_lstm_bptt(dhs, dc_last, dh_last, caches):
    """Backpropagation through time: CS231n's step backward, from the last step to the first."""
    dx, dWx, dWh, db = [], 0, 0, 0
    dh, dc = dh_last, dc_last
    for t in reversed(range(len(caches))):
        dx_t, dh, dc, dWx_t, dWh_t, db_t = lstm_step_backward(dhs[:, t] + dh, dc, caches[t])
        dx.append(dx_t)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx[::-1], 1), dh, dc, dWx, dWh, db


def np_rnn(x, h0, Wx, Wh, b):
    h, hs, caches = h0, [], []
    for t in range(x.shape[1]):
        h, cache = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs, 1), caches


def np_rnn_bptt(dhs, dh_last, caches):
    dx, dWx, dWh, db, dh = [], 0, 0, 0, dh_last
    for t in reversed(range(len(caches))):
        dx_t, dh, dWx_t, dWh_t, db_t = rnn_step_backward(dhs[:, t] + dh, caches[t])
        dx.append(dx_t)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx[::-1], 1), dh, dWx, dWh, db


def np_gru(x, h0, Wx, Wh, bx, bh):
    h, hs, caches = h0, [], []
    for t in range(x.shape[1]):
        h, cache = gru_step_forward(x[:, t], h, Wx, Wh, bx, bh)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs, 1), caches


def np_gru_bptt(dhs, dh_last, caches):
    dx, dWx, dWh, dbx, dbh, dh = [], 0, 0, 0, 0, dh_last
    for t in reversed(range(len(caches))):
        dx_t, dh, dWx_t, dWh_t, dbx_t, dbh_t = gru_step_backward(dhs[:, t] + dh, caches[t])
        dx.append(dx_t)
        dWx, dWh, dbx, dbh = dWx + dWx_t, dWh + dWh_t, dbx + dbx_t, dbh + dbh_t
    return np.stack(dx[::-1], 1), dh, dWx, dWh, dbx, dbh


def random_params(rng, **shapes):
    return {name: rng.normal(0, 0.5, shape) for name, shape in shapes.items()}


def apply_and_grad(cell, params, x, carry, G, G_carry):
    """Outputs, final carry and d/d(params, x, initial carry) of sum(outputs * G) + sum(carry * G_carry)."""
    rnn = RNN(cell)

    def loss(params, x, carry):
        final, ys = rnn.apply({"params": {"cell": params}}, x, initial_carry=carry)
        return jnp.sum(ys * G) + sum(jnp.sum(a * g) for a, g in zip(jax.tree.leaves(final),
                                                                     jax.tree.leaves(G_carry))), (final, ys)

    grads, (final, ys) = jax.jit(jax.grad(loss, argnums=(0, 1, 2), has_aux=True))(params, x, carry)
    return ys, final, grads


# ---------------------------------------------------------------- numerics against NumPy (float64)

def test_lstm_forward_and_bptt_equal_the_cs231n_code():
    rng = np.random.default_rng(0)
    p = random_params(rng, Wx=(D, 4 * H), Wh=(H, 4 * H), b=(4 * H,))
    x, h0, c0 = rng.normal(size=(B, T, D)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    G, Gc, Gh = rng.normal(size=(B, T, H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    hs, (c_last, h_last), caches = np_lstm(x, h0, c0, p["Wx"], p["Wh"], p["b"])
    dx, dh0, dc0, dWx, dWh, db = np_lstm_bptt(G, Gc, Gh, caches)
    with jax.enable_x64(True):
        cell = LSTMCell(H, dtype=jnp.float64, param_dtype=jnp.float64)
        ys, (c, h), (g_params, g_x, (g_c0, g_h0)) = apply_and_grad(cell, p, x, (c0, h0), G, (Gc, Gh))
        assert ys.dtype == jnp.float64
    np.testing.assert_allclose(ys, hs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c, c_last, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h, h_last, rtol=1e-12, atol=1e-12)
    for got, want in [(g_x, dx), (g_h0, dh0), (g_c0, dc0), (g_params["Wx"], dWx), (g_params["Wh"], dWh),
                      (g_params["b"], db)]:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_lstm_float32_matches_the_cs231n_code_to_float32_precision():
    rng = np.random.default_rng(1)
    p = random_params(rng, Wx=(D, 4 * H), Wh=(H, 4 * H), b=(4 * H,))
    x = rng.normal(size=(B, T, D))
    zeros = np.zeros((B, H))
    hs, (c_last, _), _ = np_lstm(x, zeros, zeros, p["Wx"], p["Wh"], p["b"])
    (c, h), ys = RNN(LSTMCell(H)).apply({"params": {"cell": p}}, jnp.asarray(x, jnp.float32))
    assert ys.dtype == c.dtype == jnp.float32
    np.testing.assert_allclose(ys, hs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c, c_last, rtol=1e-5, atol=1e-6)


def test_vanilla_rnn_forward_and_bptt():
    rng = np.random.default_rng(2)
    p = random_params(rng, Wx=(D, H), Wh=(H, H), b=(H,))
    x, h0, G, Gh = (rng.normal(size=s) for s in [(B, T, D), (B, H), (B, T, H), (B, H)])
    hs, caches = np_rnn(x, h0, p["Wx"], p["Wh"], p["b"])
    dx, dh0, dWx, dWh, db = np_rnn_bptt(G, Gh, caches)
    with jax.enable_x64(True):
        cell = SimpleRNNCell(H, dtype=jnp.float64, param_dtype=jnp.float64)
        ys, h, (g_params, g_x, g_h0) = apply_and_grad(cell, p, x, h0, G, Gh)
    np.testing.assert_allclose(ys, hs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h, hs[:, -1], rtol=1e-12, atol=1e-12)
    for got, want in [(g_x, dx), (g_h0, dh0), (g_params["Wx"], dWx), (g_params["Wh"], dWh), (g_params["b"], db)]:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_gru_forward_and_bptt():
    rng = np.random.default_rng(3)
    p = random_params(rng, Wx=(D, 3 * H), Wh=(H, 3 * H), bx=(3 * H,), bh=(3 * H,))
    x, h0, G, Gh = (rng.normal(size=s) for s in [(B, T, D), (B, H), (B, T, H), (B, H)])
    hs, caches = np_gru(x, h0, p["Wx"], p["Wh"], p["bx"], p["bh"])
    dx, dh0, dWx, dWh, dbx, dbh = np_gru_bptt(G, Gh, caches)
    with jax.enable_x64(True):
        cell = GRUCell(H, dtype=jnp.float64, param_dtype=jnp.float64)
        ys, h, (g_params, g_x, g_h0) = apply_and_grad(cell, p, x, h0, G, Gh)
    np.testing.assert_allclose(ys, hs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h, hs[:, -1], rtol=1e-12, atol=1e-12)
    for got, want in [(g_x, dx), (g_h0, dh0), (g_params["Wx"], dWx), (g_params["Wh"], dWh),
                      (g_params["bx"], dbx), (g_params["bh"], dbh)]:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_peephole_lstm_forward():
    rng = np.random.default_rng(4)
    p = random_params(rng, Wx=(D, 4 * H), Wh=(H, 4 * H), b=(4 * H,), w_ci=(H,), w_cf=(H,), w_co=(H,))
    x, h, c = rng.normal(size=(B, T, D)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    h0, c0, hs = h, c, []
    for t in range(T):   # Gers & Schmidhuber: i, f see c_{t-1}; o sees c_t
        ai, af, ao, ag = np.split(x[:, t] @ p["Wx"] + h @ p["Wh"] + p["b"], 4, axis=1)
        i, f = sigmoid(ai + p["w_ci"] * c), sigmoid(af + p["w_cf"] * c)
        c = f * c + i * np.tanh(ag)
        h = sigmoid(ao + p["w_co"] * c) * np.tanh(c)
        hs.append(h)
    with jax.enable_x64(True):
        rnn = RNN(LSTMCell(H, peephole=True, dtype=jnp.float64, param_dtype=jnp.float64))
        assert set(rnn.init(jax.random.key(0), x)["params"]["cell"]) == set(p)
        (c_got, h_got), ys = rnn.apply({"params": {"cell": p}}, x, initial_carry=(c0, h0))
    np.testing.assert_allclose(ys, np.stack(hs, 1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c_got, c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_got, h, rtol=1e-12, atol=1e-12)


def test_forget_bias_adds_to_the_forget_block_only():
    rng = np.random.default_rng(5)
    p = random_params(rng, Wx=(D, 4 * H), Wh=(H, 4 * H), b=(4 * H,))
    x = rng.normal(size=(B, T, D))
    shifted = dict(p, b=p["b"] + np.concatenate([np.zeros(H), np.full(H, 1.0), np.zeros(2 * H)]))
    zeros = np.zeros((B, H))
    want, _, _ = np_lstm(x, zeros, zeros, shifted["Wx"], shifted["Wh"], shifted["b"])
    with jax.enable_x64(True):
        cell = LSTMCell(H, forget_bias=1.0, dtype=jnp.float64, param_dtype=jnp.float64)
        _, ys = RNN(cell).apply({"params": {"cell": p}}, x)
    np.testing.assert_allclose(ys, want, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- PyTorch's layouts and equations

def torch_lstm(x, weight_ih, weight_hh, bias_ih, bias_hh):
    """torch.nn.LSTM as documented: gates = W_ih x + b_ih + W_hh h + b_hh, chunks [i, f, g, o]."""
    h = c = np.zeros((x.shape[0], weight_hh.shape[1]))
    hs = []
    for t in range(x.shape[1]):
        i, f, g, o = np.split(x[:, t] @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
    return np.stack(hs, 1)


def torch_gru(x, weight_ih, weight_hh, bias_ih, bias_hh):
    """torch.nn.GRU as documented: r, z, n = chunks of W_ih x + b_ih and of W_hh h + b_hh, in that order."""
    h, hs = np.zeros((x.shape[0], weight_hh.shape[1])), []
    for t in range(x.shape[1]):
        ir, iz, in_ = np.split(x[:, t] @ weight_ih.T + bias_ih, 3, axis=1)
        hr, hz, hn = np.split(h @ weight_hh.T + bias_hh, 3, axis=1)
        r, z = sigmoid(ir + hr), sigmoid(iz + hz)
        n = np.tanh(in_ + r * hn)
        h = (1 - z) * n + z * h
        hs.append(h)
    return np.stack(hs, 1)


@pytest.mark.parametrize("with_bias", [True, False])
def test_lstm_params_from_torch(with_bias):
    rng = np.random.default_rng(6)
    w = random_params(rng, weight_ih=(4 * H, D), weight_hh=(4 * H, H), bias_ih=(4 * H,), bias_hh=(4 * H,))
    if not with_bias:
        w["bias_ih"] = w["bias_hh"] = None
    x = rng.normal(size=(B, T, D))
    want = torch_lstm(x, w["weight_ih"], w["weight_hh"], *(np.zeros(4 * H) if b is None else b
                                                           for b in (w["bias_ih"], w["bias_hh"])))
    params = lstm_params_from_torch(**w)
    assert {k: v.shape for k, v in params.items()} == {"Wx": (D, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,)}
    with jax.enable_x64(True):
        _, ys = RNN(LSTMCell(H, dtype=jnp.float64, param_dtype=jnp.float64)).apply({"params": {"cell": params}}, x)
    np.testing.assert_allclose(ys, want, rtol=1e-12, atol=1e-12)


def test_gru_params_from_torch():
    rng = np.random.default_rng(7)
    w = random_params(rng, weight_ih=(3 * H, D), weight_hh=(3 * H, H), bias_ih=(3 * H,), bias_hh=(3 * H,))
    x = rng.normal(size=(B, T, D))
    params = gru_params_from_torch(**w)
    with jax.enable_x64(True):
        _, ys = RNN(GRUCell(H, dtype=jnp.float64, param_dtype=jnp.float64)).apply({"params": {"cell": params}}, x)
    np.testing.assert_allclose(ys, torch_gru(x, **w), rtol=1e-12, atol=1e-12)


def test_torch_converters_reject_wrong_shapes():
    with pytest.raises(ValueError, match=r"weight_ih \(4H, D\)"):
        lstm_params_from_torch(np.zeros((D, 4 * H)), np.zeros((H, 4 * H)))
    with pytest.raises(ValueError, match=r"bias_hh must have shape \(18,\)"):
        gru_params_from_torch(np.zeros((3 * H, D)), np.zeros((3 * H, H)), np.zeros(3 * H), np.zeros(H))


# ---------------------------------------------------------------- masks and direction

@pytest.mark.parametrize("make_cell", [LSTMCell, GRUCell], ids=["lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_padded_batch_equals_each_sequence_alone(make_cell, reverse):
    rng = np.random.default_rng(8)
    lengths = [5, 2, 4]
    x = rng.normal(size=(3, 5, D)).astype(np.float32)   # the padded steps hold garbage, which must not matter
    rnn = RNN(make_cell(H), reverse=reverse)
    variables = rnn.init(jax.random.key(0), x)
    carry, ys = jax.jit(rnn.apply)(variables, x, lengths_to_mask(np.array(lengths), 5))
    forward = RNN(make_cell(H))   # same parameters, the (reversed) true-length sequence alone
    for b, n in enumerate(lengths):
        seq = x[b:b + 1, :n][:, ::-1] if reverse else x[b:b + 1, :n]
        carry_alone, ys_alone = forward.apply(variables, seq)
        ys_alone = ys_alone[:, ::-1] if reverse else ys_alone
        np.testing.assert_allclose(ys[b, :n], ys_alone[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(ys[b, n:], 0.0)
        jax.tree.map(lambda got, want: np.testing.assert_allclose(got[b], want[0], rtol=1e-5, atol=1e-6),
                     carry, carry_alone)


def test_lengths_to_mask():
    np.testing.assert_array_equal(lengths_to_mask(np.array([0, 2, 3]), 3),
                                  [[False, False, False], [True, True, False], [True, True, True]])


def test_bidirectional_halves_are_a_forward_and_a_reverse_scan():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    mask = lengths_to_mask(np.array([5, 3, 1]), T)
    bi = Bidirectional(LSTMCell(H), GRUCell(H + 1))
    variables = bi.init(jax.random.key(0), x)
    (c_fwd, c_bwd), ys = bi.apply(variables, x, mask)
    assert ys.shape == (B, T, 2 * H + 1)
    params = variables["params"]
    fwd_carry, fwd = RNN(LSTMCell(H)).apply({"params": {"cell": params["forward_cell"]}}, x, mask)
    bwd_carry, bwd = RNN(GRUCell(H + 1), reverse=True).apply({"params": {"cell": params["backward_cell"]}}, x, mask)
    np.testing.assert_allclose(ys, np.concatenate([fwd, bwd], -1), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c_fwd[1], fwd_carry[1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c_bwd, bwd_carry, rtol=1e-6, atol=1e-7)
    # the backward direction of the first time step has read the whole (true-length) sequence
    np.testing.assert_allclose(ys[:, 0, H:], c_bwd, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- stacking

@pytest.mark.parametrize("bidirectional", [False, True])
def test_two_layers_equal_two_composed_layers(bidirectional):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    mask = lengths_to_mask(np.array([5, 3, 4]), T)
    model = StackedRNN("gru", H, num_layers=2, bidirectional=bidirectional, dropout_rate=0.5)
    variables = model.init(jax.random.key(0), x, mask)
    carries, ys = model.apply(variables, x, mask)   # eval: dropout is off
    assert ys.shape == (B, T, 2 * H if bidirectional else H) and len(carries) == 2
    params = variables["params"]
    layer = Bidirectional(GRUCell(H), GRUCell(H)) if bidirectional else RNN(GRUCell(H))
    carry0, y0 = layer.apply({"params": params["layer_0"]}, x, mask)
    carry1, y1 = layer.apply({"params": params["layer_1"]}, y0, mask)
    np.testing.assert_allclose(ys, y1, rtol=1e-6, atol=1e-7)
    for got, want in zip(jax.tree.leaves(carries), jax.tree.leaves((carry0, carry1))):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_dropout_between_layers_only_and_only_in_training():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    rngs = {"dropout": jax.random.key(1)}
    one = StackedRNN("lstm", H, num_layers=1, dropout_rate=0.5)
    v1 = one.init(jax.random.key(0), x)
    np.testing.assert_array_equal(one.apply(v1, x, train=True, rngs=rngs)[1], one.apply(v1, x)[1])  # none after last

    two = StackedRNN("lstm", H, num_layers=2, dropout_rate=0.5)
    v2 = two.init(jax.random.key(0), x)
    eval_ys = two.apply(v2, x)[1]
    train_ys = two.apply(v2, x, train=True, rngs=rngs)[1]
    assert not np.allclose(train_ys, eval_ys)
    np.testing.assert_array_equal(train_ys, two.apply(v2, x, train=True, rngs=rngs)[1])   # same rng, same mask
    # layer 1 read layer 0's outputs with each element either zeroed or scaled by 1 / (1 - rate)
    (_, train_ys2), state = two.apply(v2, x, train=True, rngs=rngs, capture_intermediates=True,
                                      mutable=["intermediates"])
    dropped = state["intermediates"]["Dropout_0"]["__call__"][0]
    _, y0 = RNN(LSTMCell(H)).apply({"params": v2["params"]["layer_0"]}, x)
    kept = dropped != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(np.where(kept, dropped, 0), np.where(kept, y0 / 0.5, 0), rtol=1e-6)
    _, y1 = RNN(LSTMCell(H)).apply({"params": v2["params"]["layer_1"]}, dropped)
    np.testing.assert_allclose(train_ys2, y1, rtol=1e-6, atol=1e-7)


def test_stacked_cell_kwargs_and_param_names():
    x = jnp.zeros((2, 3, D))
    model = StackedRNN("lstm", H, num_layers=2, cell_kwargs={"peephole": True})
    params = jax.eval_shape(model.init, jax.random.key(0), x)["params"]
    assert set(params) == {"layer_0", "layer_1"}
    assert set(params["layer_1"]["cell"]) == {"Wx", "Wh", "b", "w_ci", "w_cf", "w_co"}
    assert params["layer_1"]["cell"]["Wx"].shape == (H, 4 * H)


# ---------------------------------------------------------------- initialisation, dtypes, compilation

def test_each_recurrent_gate_block_is_orthogonal():
    Wh = LSTMCell(H).init(jax.random.key(0), LSTMCell(H).zero_carry(1), jnp.zeros((1, D)))["params"]["Wh"]
    for block in np.split(np.asarray(Wh), 4, axis=1):
        np.testing.assert_allclose(block.T @ block, np.eye(H), atol=1e-5)


def test_bfloat16_compute_keeps_a_float32_carry():
    rnn = RNN(LSTMCell(H, dtype=jnp.bfloat16))
    x = jnp.ones((B, T, D))
    (c, h), ys = rnn.init_with_output(jax.random.key(0), x)[0]
    assert ys.dtype == jnp.bfloat16 and c.dtype == h.dtype == jnp.float32


def test_one_scan_for_any_sequence_length():
    rnn = RNN(GRUCell(H))
    variables = rnn.init(jax.random.key(0), jnp.zeros((B, T, D)))
    jaxprs = [jax.make_jaxpr(rnn.apply)(variables, jnp.zeros((B, n, D))) for n in (3, 50)]
    for jaxpr in jaxprs:
        assert "scan" in {eqn.primitive.name for eqn in jaxpr.eqns}
    assert len(jaxprs[0].eqns) == len(jaxprs[1].eqns)   # no per-step Python unrolling


# ---------------------------------------------------------------- errors

def test_bad_inputs_get_clear_errors():
    rnn = RNN(LSTMCell(H))
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=r"\(batch, time, features\); got shape \(5, 4\)"):
        rnn.init(key, jnp.zeros((T, D)))
    with pytest.raises(ValueError, match="length 0"):
        rnn.init(key, jnp.zeros((B, 0, D)))
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, time\) = \(3, 5\).*got \(3, 4\)"):
        rnn.init(key, jnp.zeros((B, T, D)), jnp.ones((B, T - 1), bool))
    with pytest.raises(ValueError, match=r"initial_carry .* must have shapes \(\(3, 6\), \(3, 6\)\)"):
        rnn.init(key, jnp.zeros((B, T, D)), initial_carry=jnp.zeros((B, H)))
    with pytest.raises(ValueError, match=r"initial_carry"):
        RNN(GRUCell(H)).init(key, jnp.zeros((B, T, D)), initial_carry=jnp.zeros((B + 1, H)))
    with pytest.raises(ValueError, match="unknown cell 'transformer'; known: gru, lstm, rnn"):
        StackedRNN("transformer", H).init(key, jnp.zeros((B, T, D)))
    with pytest.raises(ValueError, match="num_layers >= 1"):
        StackedRNN("gru", H, num_layers=0).init(key, jnp.zeros((B, T, D)))

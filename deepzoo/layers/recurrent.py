"""Recurrent layers: vanilla RNN, LSTM and GRU cells, scanned over time (one compiled step for any length).

A cell computes ONE time step, `(carry, x_t) -> (new_carry, y_t)`, on batch-major x_t (batch, features);
`RNN` runs it over x (batch, time, features) with `nn.scan` (parameters shared by every step);
`Bidirectional` runs one cell forward and one backward and concatenates their outputs; `StackedRNN`
stacks layers by name, with dropout between them as PyTorch's `dropout` argument.

    SimpleRNNCell  h' = tanh(x Wx + h Wh + b)                        carry h       Wx (D, H),  Wh (H, H)
    LSTMCell       a = x Wx + h Wh + b, blocks [i, f, o, g]          carry (c, h)  Wx (D, 4H), Wh (H, 4H)
                   c' = sigmoid(f) c + sigmoid(i) tanh(g);  h' = sigmoid(o) tanh(c')     (Stanford CS231n's layout)
    GRUCell        r, z = sigmoid(x Wx + bx + h Wh + bh) blocks [r, z] carry h       Wx (D, 3H), Wh (H, 3H)
                   n = tanh(x Wx_n + bx_n + r (h Wh_n + bh_n));  h' = (1 - z) n + z h    (PyTorch's / cuDNN's)

Usage:
    rnn = RNN(LSTMCell(128))
    variables = rnn.init(key, x)                            # x (batch, time, features)
    (c, h), outputs = rnn.apply(variables, x, mask=lengths_to_mask(lengths, x.shape[1]))
    carries, outputs = StackedRNN("gru", 256, num_layers=2, bidirectional=True, dropout_rate=0.3).apply(
        variables, x, mask, train=True, rngs={"dropout": key})

A cell's `stage` argument lets a scan take the input projection out of the loop: "input" maps x (..., D) to
x Wx + b for every time step at once (one large matmul; the carry is unused), "recur" takes one step from that
projection, "step" (the default) does both for one x_t. scan_cell does the first before its scan and the second
in it, so a sequence costs one (B T, D) x (D, G H) matmul plus T recurrent ones, as cuDNN arranges it.

Padding: `mask` (batch, time), True at real steps, sequences padded at the end. At a padded step the carry
is kept and the output is zero, so the final carry is each sequence's carry after its last real step, and
a reverse scan starts each sequence at its last real token.

Initialisers (the defaults of Flax's own cells): input kernels `lecun_normal` (variance 1 / D), recurrent
kernels `orthogonal` (Saxe et al. 2014: singular values 1, so at initialisation repeated multiplication by
Wh neither explodes nor vanishes), biases zeros. Each gate's block of a fused kernel is initialised on its
own, as if it were a separate matrix. PyTorch instead draws everything from U(-1/sqrt(H), 1/sqrt(H)).

Exchanging weights with PyTorch (`lstm_params_from_torch`, `gru_params_from_torch`):
    nn.LSTM: weight_ih_l0 (4H, D), weight_hh_l0 (4H, H), bias_ih_l0 and bias_hh_l0 (4H,), gate blocks in the
             order [i, f, g, o]. Ours: Wx = weight_ih.T and Wh = weight_hh.T with the blocks reordered to
             [i, f, o, g], and one bias b = bias_ih + bias_hh (the two only ever appear summed).
    nn.GRU:  weight_ih_l0 (3H, D), weight_hh_l0 (3H, H), bias_ih_l0 and bias_hh_l0 (3H,), blocks [r, z, n],
             the same order as ours: Wx = weight_ih.T, Wh = weight_hh.T, bx = bias_ih, bh = bias_hh (two
             biases, because bh_n sits inside r * (...)).
    nn.RNN:  weight_ih_l0 (H, D) -> Wx = weight_ih.T, weight_hh_l0 -> Wh = weight_hh.T, b = bias_ih + bias_hh.
    Layer l > 0 and the reverse direction (suffix "_reverse") use the same mapping.
"""
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Initializer = Callable[..., jax.Array]


def _per_gate(init: Initializer, num_gates: int) -> Initializer:
    """An initialiser of a fused (n_in, num_gates * H) kernel that draws each (n_in, H) gate block alone."""
    def init_fused(key, shape, dtype=jnp.float32):
        n_in, total = shape
        keys = jax.random.split(key, num_gates)
        return jnp.concatenate([init(k, (n_in, total // num_gates), dtype) for k in keys], axis=-1)
    return init_fused


def _zeros(batch_size: int, features: int, compute_dtype, dtype):
    """A zero state; in float32 (or the compute dtype when wider) unless told: the carry crosses every
    step, so bf16 rounding would accumulate over time."""
    dtype = jnp.promote_types(compute_dtype, jnp.float32) if dtype is None else dtype
    return jnp.zeros((batch_size, features), dtype)


def _project(x, Wx, b, dtype):
    """The input projection x Wx + b in the compute dtype."""
    x, Wx, b = nn.dtypes.promote_dtype(x, Wx, b, dtype=dtype)
    return x @ Wx + b


class SimpleRNNCell(nn.Module):
    """The vanilla (Elman 1990) RNN step: h' = activation(x Wx + h Wh + b); y = h'."""
    features: int
    activation: Callable = jnp.tanh
    kernel_init: Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: Initializer = nn.initializers.orthogonal()
    bias_init: Initializer = nn.initializers.zeros
    dtype: Any = jnp.float32          # compute dtype of the matmuls
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, carry, x, *, stage: str = "step"):
        """One step: (h (B, features), x_t (B, D)) -> (h' in h's dtype, y_t = h' (B, features)
        in the compute dtype). stage: module docstring."""
        if stage != "recur":   # "recur" is given x Wx + b
            Wx = self.param("Wx", self.kernel_init, (x.shape[-1], self.features), self.param_dtype)
        Wh = self.param("Wh", self.recurrent_kernel_init, (self.features, self.features), self.param_dtype)
        b = self.param("b", self.bias_init, (self.features,), self.param_dtype)
        xw = x if stage == "recur" else _project(x, Wx, b, self.dtype)
        if stage == "input":
            return xw
        h = carry
        h_, Wh, xw = nn.dtypes.promote_dtype(h, Wh, xw, dtype=self.dtype)
        new_h = self.activation(xw + h_ @ Wh)
        return new_h.astype(h.dtype), new_h.astype(self.dtype)

    def zero_carry(self, batch_size: int, dtype=None):
        """h = 0, in float32 (float64 for a float64 cell) unless told."""
        return _zeros(batch_size, self.features, self.dtype, dtype)


class LSTMCell(nn.Module):
    """Long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    a = x Wx + h Wh + b, split into the blocks [i, f, o, g] exactly as CS231n's lstm_step_forward (assignment 3):
        i, f, o = sigmoid(a_i), sigmoid(a_f + forget_bias), sigmoid(a_o);  g = tanh(a_g)
        c' = f * c + i * g;  h' = o * tanh(c');  carry (c, h), output h'.
    forget_bias: a constant added to the forget gate's pre-activation. 1.0 is the recommendation of
        Jozefowicz et al. (2015) (the cell remembers by default early in training); the default 0.0 keeps
        the numerics equal to CS231n's and to PyTorch's.
    peephole: the gates also look at the cell (Gers & Schmidhuber 2000), through diagonal weights
        "w_ci", "w_cf" (on c, the previous cell) and "w_co" (on c', the new cell), initialised to zero.
    """
    features: int
    forget_bias: float = 0.0
    peephole: bool = False
    kernel_init: Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: Initializer = nn.initializers.orthogonal()
    bias_init: Initializer = nn.initializers.zeros
    peephole_init: Initializer = nn.initializers.zeros
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, carry, x, *, stage: str = "step"):
        """One step: ((c, h), each (B, features), x_t (B, D)) -> ((c', h') in the carry's dtype,
        y_t = h' (B, features) in the compute dtype). stage: module docstring."""
        H = self.features
        if stage != "recur":
            Wx = self.param("Wx", _per_gate(self.kernel_init, 4), (x.shape[-1], 4 * H), self.param_dtype)
        Wh = self.param("Wh", _per_gate(self.recurrent_kernel_init, 4), (H, 4 * H), self.param_dtype)
        b = self.param("b", self.bias_init, (4 * H,), self.param_dtype)
        xw = x if stage == "recur" else _project(x, Wx, b, self.dtype)
        if stage == "input":
            return xw
        c, h = carry
        h_, Wh, xw = nn.dtypes.promote_dtype(h, Wh, xw, dtype=self.dtype)
        a_i, a_f, a_o, a_g = jnp.split(xw + h_ @ Wh, 4, axis=-1)
        a_f = a_f + self.forget_bias
        if self.peephole:
            w_ci, w_cf, w_co = (self.param(name, self.peephole_init, (H,), self.param_dtype)
                                for name in ("w_ci", "w_cf", "w_co"))
            a_i, a_f = a_i + w_ci * c, a_f + w_cf * c
        i, f, g = nn.sigmoid(a_i), nn.sigmoid(a_f), jnp.tanh(a_g)
        new_c = f * c + i * g
        if self.peephole:
            a_o = a_o + w_co * new_c   # the output gate sees the new cell
        new_h = nn.sigmoid(a_o) * jnp.tanh(new_c)
        return (new_c.astype(c.dtype), new_h.astype(h.dtype)), new_h.astype(self.dtype)

    def zero_carry(self, batch_size: int, dtype=None):
        """(c, h) = (0, 0), in float32 (float64 for a float64 cell) unless told."""
        zeros = _zeros(batch_size, self.features, self.dtype, dtype)
        return zeros, zeros


class GRUCell(nn.Module):
    """Gated recurrent unit (Cho et al. 2014) with the reset gate applied after the hidden matmul, as in
    PyTorch and cuDNN (the paper applies it before: tanh(x W + (r * h) U)):

        r = sigmoid(x Wx_r + bx_r + h Wh_r + bh_r);  z = sigmoid(x Wx_z + bx_z + h Wh_z + bh_z)
        n = tanh(x Wx_n + bx_n + r * (h Wh_n + bh_n));  h' = (1 - z) * n + z * h;  carry h, output h'.
    """
    features: int
    kernel_init: Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: Initializer = nn.initializers.orthogonal()
    bias_init: Initializer = nn.initializers.zeros
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, carry, x, *, stage: str = "step"):
        """One step: (h (B, features), x_t (B, D)) -> (h' in h's dtype, y_t = h' (B, features)
        in the compute dtype). stage: module docstring."""
        H = self.features
        if stage != "recur":
            Wx = self.param("Wx", _per_gate(self.kernel_init, 3), (x.shape[-1], 3 * H), self.param_dtype)
        Wh = self.param("Wh", _per_gate(self.recurrent_kernel_init, 3), (H, 3 * H), self.param_dtype)
        bx = self.param("bx", self.bias_init, (3 * H,), self.param_dtype)
        bh = self.param("bh", self.bias_init, (3 * H,), self.param_dtype)
        xw = x if stage == "recur" else _project(x, Wx, bx, self.dtype)
        if stage == "input":
            return xw
        h = carry
        h_, Wh, bh, xw = nn.dtypes.promote_dtype(h, Wh, bh, xw, dtype=self.dtype)
        x_r, x_z, x_n = jnp.split(xw, 3, axis=-1)
        h_r, h_z, h_n = jnp.split(h_ @ Wh + bh, 3, axis=-1)
        r, z = nn.sigmoid(x_r + h_r), nn.sigmoid(x_z + h_z)
        n = jnp.tanh(x_n + r * h_n)
        new_h = (1.0 - z) * n + z * h
        return new_h.astype(h.dtype), new_h.astype(self.dtype)

    def zero_carry(self, batch_size: int, dtype=None):
        """h = 0, in float32 (float64 for a float64 cell) unless told."""
        return _zeros(batch_size, self.features, self.dtype, dtype)


CELLS = {"rnn": SimpleRNNCell, "lstm": LSTMCell, "gru": GRUCell}


def lengths_to_mask(lengths, max_length: int):
    """(batch,) sequence lengths -> (batch, max_length) boolean mask, True at the first `length` steps."""
    return jnp.arange(max_length)[None, :] < jnp.asarray(lengths)[:, None]


def _shapes(tree):
    return jax.tree.map(lambda a: tuple(jnp.shape(a)), tree)


def scan_cell(cell: nn.Module, x, mask=None, initial_carry=None, reverse: bool = False):
    """Runs a bound `cell` over the time axis of x (batch, time, features): (final_carry, outputs).

    The building block of RNN and Bidirectional; call it from inside a module that owns `cell`.
    """
    name = type(cell).__name__
    if x.ndim != 3:
        raise ValueError(f"{name} over time expects x of shape (batch, time, features); got shape "
                         f"{tuple(x.shape)} (one sequence: add a batch axis x[None]; one step: call the cell).")
    batch, length = x.shape[:2]
    if length == 0:
        raise ValueError(f"{name} got x of shape {tuple(x.shape)}: sequences of length 0 have no steps to "
                         f"scan; give every batch at least one time step.")
    if mask is not None:
        if tuple(jnp.shape(mask)) != (batch, length):
            raise ValueError(f"mask must have shape (batch, time) = {(batch, length)} to match x "
                             f"{tuple(x.shape)}; got {tuple(jnp.shape(mask))}.")
        mask = jnp.asarray(mask).astype(bool)
    expected = cell.zero_carry(batch)
    if initial_carry is None:
        initial_carry = expected
    elif (jax.tree.structure(initial_carry) != jax.tree.structure(expected)
          or _shapes(initial_carry) != _shapes(expected)):
        raise ValueError(f"initial_carry of {name}({cell.features}) for a batch of {batch} must have shapes "
                         f"{_shapes(expected)}; got {_shapes(initial_carry)} (cell.zero_carry(batch) makes one).")

    def step(cell, carry, inputs):
        x_t, m_t = inputs
        new_carry, y = cell(carry, x_t, stage="recur")
        if m_t is not None:   # padded step: keep the carry, output zeros
            keep = lambda new, old: jnp.where(m_t[:, None], new, old)
            new_carry = jax.tree.map(keep, new_carry, carry)
            y = jnp.where(m_t[:, None], y, jnp.zeros_like(y))
        return new_carry, y

    # One traced step, shared parameters: the same compiled scan serves every sequence length.
    scan = nn.scan(step, variable_broadcast="params", split_rngs={"params": False},
                   in_axes=1, out_axes=1, reverse=reverse)
    return scan(cell, initial_carry, (cell(None, x, stage="input"), mask))


class RNN(nn.Module):
    """A cell scanned over time: __call__(x (B, T, D), mask (B, T), initial_carry) -> (carry, outputs (B, T, H)).

    reverse=True scans from the last step to the first (outputs stay at their time index); with a mask,
    each right-padded sequence starts at its last real token.
    """
    cell: nn.Module
    reverse: bool = False

    @nn.compact
    def __call__(self, x, mask=None, initial_carry=None):
        return scan_cell(self.cell, x, mask, initial_carry, self.reverse)


class Bidirectional(nn.Module):
    """Forward and backward scans of x, outputs concatenated on features:
    __call__(x, mask, initial_carries) -> ((forward_carry, backward_carry), outputs (B, T, H_fwd + H_bwd)).
    At time t the forward half has read x[:t+1] and the backward half x[t:length].
    """
    forward_cell: nn.Module
    backward_cell: nn.Module

    @nn.compact
    def __call__(self, x, mask=None, initial_carries=None):
        init_fwd, init_bwd = (None, None) if initial_carries is None else initial_carries
        carry_fwd, y_fwd = scan_cell(self.forward_cell, x, mask, init_fwd, reverse=False)
        carry_bwd, y_bwd = scan_cell(self.backward_cell, x, mask, init_bwd, reverse=True)
        return (carry_fwd, carry_bwd), jnp.concatenate([y_fwd, y_bwd], axis=-1)


class StackedRNN(nn.Module):
    """`num_layers` recurrent layers of one cell type, as PyTorch's nn.LSTM/nn.GRU/nn.RNN(num_layers=...).

    __call__(x (B, T, D), mask (B, T), *, train) -> (final carries, one per layer (a (forward, backward)
    pair per layer when bidirectional), outputs of the last layer (B, T, H or 2H)). Dropout acts on the
    outputs of every layer but the last, in training only. Layer i is the submodule "layer_{i}".
    """
    cell: str                       # "rnn", "lstm" or "gru"
    features: int
    num_layers: int = 1
    bidirectional: bool = False
    dropout_rate: float = 0.0
    cell_kwargs: Any = None         # extra cell fields, e.g. {"forget_bias": 1.0}
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, mask=None, *, train: bool = False):
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; known: {', '.join(sorted(CELLS))}")
        if self.num_layers < 1:
            raise ValueError(f"StackedRNN needs num_layers >= 1; got {self.num_layers}.")
        kwargs = dict(self.cell_kwargs or {})
        # parent=None: an unbound cell, adopted by the layer it is given to (params "layer_i/cell/...").
        make_cell = lambda: CELLS[self.cell](self.features, dtype=self.dtype, param_dtype=self.param_dtype,
                                             parent=None, **kwargs)
        carries = []
        for i in range(self.num_layers):
            if i > 0:
                x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
            if self.bidirectional:
                layer = Bidirectional(make_cell(), make_cell(), name=f"layer_{i}")
            else:
                layer = RNN(make_cell(), name=f"layer_{i}")
            carry, x = layer(x, mask)
            carries.append(carry)
        return tuple(carries), x


def _check_torch_shapes(kind: str, num_gates: int, weight_ih, weight_hh, bias_ih, bias_hh):
    rows = weight_ih.shape[0] if weight_ih.ndim == 2 else -1
    H = rows // num_gates
    if weight_ih.ndim != 2 or rows % num_gates or weight_hh.shape != (rows, H):
        raise ValueError(f"{kind} weights must be weight_ih ({num_gates}H, D) and weight_hh ({num_gates}H, H), "
                         f"as PyTorch stores them; got {weight_ih.shape} and {weight_hh.shape}.")
    for bias_name, bias in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if bias is not None and bias.shape != (rows,):
            raise ValueError(f"{kind} {bias_name} must have shape ({rows},); got {bias.shape}.")
    return H


def lstm_params_from_torch(weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> dict:
    """PyTorch nn.LSTM weights of one layer and direction -> our LSTMCell params {"Wx", "Wh", "b"}.

    Torch rows are gate blocks [i, f, g, o]; ours are columns [i, f, o, g]. Missing biases
    (nn.LSTM(bias=False)) count as zeros. NumPy in, NumPy out.
    """
    weight_ih, weight_hh = np.asarray(weight_ih), np.asarray(weight_hh)
    bias_ih = None if bias_ih is None else np.asarray(bias_ih)
    bias_hh = None if bias_hh is None else np.asarray(bias_hh)
    H = _check_torch_shapes("LSTM", 4, weight_ih, weight_hh, bias_ih, bias_hh)
    bias = np.zeros(4 * H, weight_ih.dtype)
    for b in (bias_ih, bias_hh):
        if b is not None:
            bias = bias + b

    def reorder(a):   # blocks [i, f, g, o] on axis 0 -> [i, f, o, g]
        i, f, g, o = np.split(a, 4, axis=0)
        return np.concatenate([i, f, o, g], axis=0)

    return {"Wx": reorder(weight_ih).T.copy(), "Wh": reorder(weight_hh).T.copy(), "b": reorder(bias)}


def gru_params_from_torch(weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> dict:
    """PyTorch nn.GRU weights of one layer and direction -> our GRUCell params {"Wx", "Wh", "bx", "bh"}.

    Both use the block order [r, z, n], so this is a transpose; missing biases count as zeros.
    """
    weight_ih, weight_hh = np.asarray(weight_ih), np.asarray(weight_hh)
    bias_ih = None if bias_ih is None else np.asarray(bias_ih)
    bias_hh = None if bias_hh is None else np.asarray(bias_hh)
    H = _check_torch_shapes("GRU", 3, weight_ih, weight_hh, bias_ih, bias_hh)
    zeros = np.zeros(3 * H, weight_ih.dtype)
    return {"Wx": weight_ih.T.copy(), "Wh": weight_hh.T.copy(),
            "bx": zeros if bias_ih is None else bias_ih.copy(), "bh": zeros if bias_hh is None else bias_hh.copy()}

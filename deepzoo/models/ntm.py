"""The neural Turing machine (Graves, Wayne & Danihelka 2014, arXiv:1410.5401): an LSTM controller with one
read and one write head on an N x M memory, addressed by content and by location, all differentiable.

    x_t, r_{t-1} -> LSTM controller -> h_t -> each head's (k, beta, g, s, gamma) [+ the write head's e, a]
    addressing (section 3.3), per head, from its previous weighting w_{t-1} (N,):
        w^c_i = softmax_i(beta K(k, M_i))               content: K = cosine similarity     (eq. 5-6)
        w^g = g w^c + (1 - g) w_{t-1}                   interpolation                        (eq. 7)
        w~_i = sum_j w^g_j s_{(i - j) mod N}            circular shift by -1, 0, +1          (eq. 8)
        w_i = w~_i^gamma / sum_j w~_j^gamma             sharpening, gamma >= 1              (eq. 9)
    write (eq. 3-4): M_i <- M_i (1 - w_i e) + w_i a;   read (eq. 2): r_t = sum_i w_i M_i   (from the new M)
    y_t = Dense([h_t, r_t])                             (B, num_outputs)

The memory starts at a small constant (1e-6: Collier & Beel 2018 find constant initialisation learns fastest),
the heads' first weightings (starting on location 0) and the first read vector are learned. The whole sequence
is one lax.scan.
experiments/ntm.py trains it on the copy task with the one train step.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp

from deepzoo.layers.recurrent import LSTMCell

SHIFTS = 3   # shift weights over -1, 0, +1


def content_weights(memory, key, beta):
    """softmax_i(beta cos(key, memory_i)): memory (B, N, M), key (B, M), beta (B,) -> (B, N)."""
    dot = jnp.einsum("bnm,bm->bn", memory, key)
    norms = jnp.linalg.norm(memory, axis=-1) * jnp.linalg.norm(key, axis=-1, keepdims=True)
    return jax.nn.softmax(beta[:, None] * dot / (norms + 1e-8), axis=-1)


def shift(weights, shifts):
    """The circular convolution of eq. 8: weights (B, N), shifts (B, 3) over offsets -1, 0, +1 -> (B, N);
    out_i = sum_k shifts_k weights_{(i - offset_k) mod N}."""
    return sum(shifts[:, k, None] * jnp.roll(weights, offset, axis=-1) for k, offset in enumerate((-1, 0, 1)))


def address(memory, previous, key, beta, gate, shifts, gamma):
    """Eq. 5-9: the head's new weighting (B, N) from its previous one (B, N) and its parameters."""
    w = gate[:, None] * content_weights(memory, key, beta) + (1 - gate[:, None]) * previous
    w = shift(w, shifts) ** gamma[:, None]
    return w / (jnp.sum(w, axis=-1, keepdims=True) + 1e-8)


def write(memory, weights, erase, add):
    """Eq. 3-4: memory (B, N, M), weights (B, N), erase and add (B, M) -> (B, N, M)."""
    return memory * (1 - weights[..., None] * erase[:, None]) + weights[..., None] * add[:, None]


def read(memory, weights):
    """Eq. 2: sum_i w_i M_i: (B, N, M), (B, N) -> (B, M)."""
    return jnp.einsum("bnm,bn->bm", memory, weights)


class NTM(nn.Module):
    """(B, T, num_inputs) -> (B, T, num_outputs) (module docstring). Methods: `__call__` the outputs,
    `trace` the read and write weightings (B, T, N) as well, for the picture of the heads over time."""
    num_outputs: int = 8
    controller_size: int = 100
    memory_size: int = 128            # N locations
    memory_width: int = 20            # M numbers each

    def setup(self):
        self.controller = LSTMCell(self.controller_size)
        M = self.memory_width
        # Per head: key (M), beta, gate, 3 shift logits, gamma; the write head also erase (M) and add (M).
        self.read_head = nn.Dense(M + 1 + 1 + SHIFTS + 1)
        self.write_head = nn.Dense(M + 1 + 1 + SHIFTS + 1 + 2 * M)
        self.output = nn.Dense(self.num_outputs)
        self.initial_read = self.param("initial_read", nn.initializers.normal(0.1), (M,))
        # Logits of the heads' first weightings, learned; they start focused on location 0 (softmax 0.99 there), as a
        # tape head starts somewhere: a uniform start spreads the first writes over the whole memory.
        self.initial_weights = self.param("initial_weights", lambda key, shape: jnp.zeros(shape).at[:, 0].set(10.0),
                                          (2, self.memory_size))

    def _head(self, params, memory, previous):
        M = self.memory_width
        key, beta, gate = jnp.tanh(params[:, :M]), jax.nn.softplus(params[:, M]), jax.nn.sigmoid(params[:, M + 1])
        shifts = jax.nn.softmax(params[:, M + 2:M + 2 + SHIFTS], axis=-1)
        gamma = 1.0 + jax.nn.softplus(params[:, M + 2 + SHIFTS])
        return address(memory, previous, key, beta, gate, shifts, gamma)

    def _step(self, carry, x):
        lstm, memory, r, w_read, w_write = carry
        lstm, h = self.controller(lstm, jnp.concatenate([x, r], -1))
        write_params = self.write_head(h)
        w_write = self._head(write_params, memory, w_write)
        M = self.memory_width
        erase, add = jax.nn.sigmoid(write_params[:, -2 * M:-M]), jnp.tanh(write_params[:, -M:])
        memory = write(memory, w_write, erase, add)
        w_read = self._head(self.read_head(h), memory, w_read)
        r = read(memory, w_read)
        y = self.output(jnp.concatenate([h, r], -1))
        return (lstm, memory, r, w_read, w_write), (y, w_read, w_write)

    def trace(self, x):
        """(outputs (B, T, num_outputs), read weightings (B, T, N), write weightings (B, T, N))."""
        B = x.shape[0]
        zeros = jnp.zeros((B, self.controller_size))
        w0 = jax.nn.softmax(self.initial_weights, axis=-1)
        carry = ((zeros, zeros), jnp.full((B, self.memory_size, self.memory_width), 1e-6),
                 jnp.broadcast_to(self.initial_read, (B, self.memory_width)),
                 jnp.broadcast_to(w0[0], (B, self.memory_size)), jnp.broadcast_to(w0[1], (B, self.memory_size)))
        step = nn.scan(lambda module, c, xt: module._step(c, xt), variable_broadcast="params",
                       split_rngs={"params": False})
        _, (y, w_read, w_write) = step(self, carry, jnp.swapaxes(x.astype(jnp.float32), 0, 1))
        return tuple(jnp.swapaxes(a, 0, 1) for a in (y, w_read, w_write))

    def __call__(self, x, *, train: bool = False):
        return self.trace(x)[0]                                                          # (B, T, num_outputs)


MODELS = {
    # The copy task of section 4.1: 8-bit vectors and a delimiter channel in, 8 bits out; 100 controller units,
    # a 128 x 20 memory (their Table 1 for the LSTM controller).
    "ntm_copy": (NTM, (41, 9)),
}

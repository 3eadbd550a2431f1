"""The differentiable neural computer (Graves et al. 2016, "Hybrid computing using a neural network with dynamic
external memory", Nature 538: 471-476; equations from its Methods): an LSTM controller with one write head and
R read heads on an N x W memory, which allocates free locations by usage and remembers the order of writes.

    x_t, r_{t-1} -> LSTM -> h_t -> interface: read keys and strengths, write key and strength, erase and write
                                   vectors, free gates, allocation and write gates, read modes
    usage      u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} w^w_{t-1}) psi_t,  psi_t = prod_i (1 - f^i w^{r,i}_{t-1})
    allocation a_t[phi_j] = (1 - u_t[phi_j]) prod_{l<j} u_t[phi_l],     phi: locations by increasing usage
    write      w^w_t = g^w (g^a a_t + (1 - g^a) C(M_{t-1}, k^w, beta^w));  M_t = M_{t-1} (1 - w^w e^T) + w^w v^T
    links      L_t[i,j] = (1 - w^w_t[i] - w^w_t[j]) L_{t-1}[i,j] + w^w_t[i] p_{t-1}[j], L_t[i,i] = 0
               p_t = (1 - sum_i w^w_t[i]) p_{t-1} + w^w_t                              (precedence)
    read       w^{r,i}_t = pi^i_1 L_t^T w^{r,i}_{t-1} + pi^i_2 C(M_t, k^{r,i}, beta^{r,i}) + pi^i_3 L_t w^{r,i}_{t-1}
                         (backward, content, forward),  r^i_t = M_t^T w^{r,i}_t
    y_t = Dense([h_t, r^1_t .. r^R_t])                                                 (B, num_outputs)

C(M, k, beta) is the softmax over locations of beta times the cosine similarity of k with each row (as the neural
Turing machine's, deepzoo/models/ntm.py); strengths pass through oneplus(x) = 1 + log(1 + e^x). The whole
sequence is one lax.scan; `trace` also returns the write weightings and the usage, for the picture of memory use.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp

from deepzoo.layers.recurrent import LSTMCell
from deepzoo.models.ntm import content_weights, read


def oneplus(x):
    """1 + log(1 + e^x): a strength >= 1."""
    return 1.0 + jax.nn.softplus(x)


def usage(previous, write_weights, free_gates, read_weights):
    """u_t from u_{t-1} (B, N), the last write weighting (B, N), the free gates (B, R) and the last read weightings
    (B, R, N): locations written since are used, locations read with their free gate on are freed."""
    retention = jnp.prod(1 - free_gates[..., None] * read_weights, axis=1)                    # psi_t (B, N)
    return (previous + write_weights - previous * write_weights) * retention


def allocation(u):
    """a_t (B, N): the least-used location gets 1 - its usage, each next one less by the usages before it."""
    order = jnp.argsort(u, axis=-1)                                                           # phi (B, N)
    sorted_usage = jnp.take_along_axis(u, order, axis=-1)
    before = jnp.cumprod(jnp.concatenate([jnp.ones_like(sorted_usage[:, :1]), sorted_usage[:, :-1]], -1), -1)
    return jnp.take_along_axis((1 - sorted_usage) * before, jnp.argsort(order, axis=-1), axis=-1)


def link(previous, precedence, write_weights):
    """L_t (B, N, N) from L_{t-1}, p_{t-1} (B, N) and w^w_t (B, N); L[i, j]: how much i was written right after j."""
    w = write_weights
    links = (1 - w[:, :, None] - w[:, None, :]) * previous + w[:, :, None] * precedence[:, None, :]
    return links * (1 - jnp.eye(w.shape[-1]))


def precedence(previous, write_weights):
    """p_t (B, N): where the last write went, fading as new writes happen."""
    return (1 - jnp.sum(write_weights, -1, keepdims=True)) * previous + write_weights


class DNC(nn.Module):
    """(B, T, num_inputs) -> (B, T, num_outputs) (module docstring). `trace` also gives the write weightings
    (B, T, N), the read weightings (B, T, R, N) and the usage (B, T, N)."""
    num_outputs: int = 8
    controller_size: int = 100
    memory_size: int = 64              # N locations
    word_size: int = 20                # W numbers each
    num_reads: int = 2                 # R read heads

    def setup(self):
        R, W = self.num_reads, self.word_size
        self.controller = LSTMCell(self.controller_size)
        # R read keys and strengths, the write key and strength, erase and write vectors, R free gates, the
        # allocation and write gates, R x 3 read modes.
        self.interface = nn.Dense(R * W + R + W + 1 + 2 * W + R + 2 + 3 * R)
        self.output = nn.Dense(self.num_outputs)

    def _split(self, xi):
        R, W = self.num_reads, self.word_size
        sizes = dict(read_keys=R * W, read_strengths=R, write_key=W, write_strength=1, erase=W, write=W,
                     free_gates=R, allocation_gate=1, write_gate=1, read_modes=3 * R)
        parts, start = {}, 0
        for name, size in sizes.items():
            parts[name], start = xi[:, start:start + size], start + size
        B = xi.shape[0]
        return dict(read_keys=jnp.tanh(parts["read_keys"]).reshape(B, R, W),
                    read_strengths=oneplus(parts["read_strengths"]),
                    write_key=jnp.tanh(parts["write_key"]), write_strength=oneplus(parts["write_strength"][:, 0]),
                    erase=jax.nn.sigmoid(parts["erase"]), write=jnp.tanh(parts["write"]),
                    free_gates=jax.nn.sigmoid(parts["free_gates"]),
                    allocation_gate=jax.nn.sigmoid(parts["allocation_gate"]),
                    write_gate=jax.nn.sigmoid(parts["write_gate"]),
                    read_modes=jax.nn.softmax(parts["read_modes"].reshape(B, R, 3), axis=-1))

    def _step(self, carry, x):
        lstm, memory, reads, read_w, write_w, u, p, links = carry
        B = x.shape[0]
        lstm, h = self.controller(lstm, jnp.concatenate([x, reads.reshape(B, -1)], -1))
        i = self._split(self.interface(h))
        u = usage(u, write_w, i["free_gates"], read_w)
        content = content_weights(memory, i["write_key"], i["write_strength"])
        write_w = i["write_gate"] * (i["allocation_gate"] * allocation(u) + (1 - i["allocation_gate"]) * content)
        memory = memory * (1 - write_w[..., None] * i["erase"][:, None]) + write_w[..., None] * i["write"][:, None]
        links = link(links, p, write_w)
        p = precedence(p, write_w)
        forward = jnp.einsum("bij,brj->bri", links, read_w)
        backward = jnp.einsum("bji,brj->bri", links, read_w)
        content = jax.vmap(content_weights, in_axes=(None, 1, 1), out_axes=1)(memory, i["read_keys"], i["read_strengths"])
        modes = i["read_modes"]
        read_w = modes[..., 0:1] * backward + modes[..., 1:2] * content + modes[..., 2:3] * forward   # (B, R, N)
        reads = jax.vmap(read, in_axes=(None, 1), out_axes=1)(memory, read_w)                       # (B, R, W)
        y = self.output(jnp.concatenate([h, reads.reshape(B, -1)], -1))
        return (lstm, memory, reads, read_w, write_w, u, p, links), (y, write_w, read_w, u)

    def trace(self, x):
        """(outputs (B, T, num_outputs), write weightings (B, T, N), read weightings (B, T, R, N), usage (B, T, N))."""
        B, N, R, W = x.shape[0], self.memory_size, self.num_reads, self.word_size
        zeros = jnp.zeros((B, self.controller_size))
        carry = ((zeros, zeros), jnp.full((B, N, W), 1e-6), jnp.zeros((B, R, W)), jnp.zeros((B, R, N)),
                 jnp.zeros((B, N)), jnp.zeros((B, N)), jnp.zeros((B, N)), jnp.zeros((B, N, N)))
        step = nn.scan(lambda module, c, xt: module._step(c, xt), variable_broadcast="params",
                       split_rngs={"params": False})
        _, outputs = step(self, carry, jnp.swapaxes(x.astype(jnp.float32), 0, 1))
        return tuple(jnp.swapaxes(a, 0, 1) for a in outputs)

    def __call__(self, x, *, train: bool = False):
        return self.trace(x)[0]                                                          # (B, T, num_outputs)


MODELS = {
    # The copy task's inputs and outputs (8 bits and a delimiter), a 64 x 20 memory, 2 read heads.
    "dnc_copy": (DNC, (41, 9)),
}

"""Hopfield networks: the classic binary associative memory and the modern continuous one.

Hopfield 1982, "Neural networks and physical systems with emergent collective computational abilities",
PNAS 79(8): N two-state units, every pair joined by one symmetric weight, no self-connections. Written with
units s_i = +-1 (Hopfield's V_i in {0, 1} is s = 2V - 1) and zero thresholds:

    s (..., N) +-1 ──> h = W s (..., N) ──> s_i <- sign(h_i)      (h_i = 0: s_i is kept)
        asynchronous: one unit at a time, in a random order (the paper's dynamics)
        synchronous:  every unit at once (Little 1974; it may end in a 2-cycle)

    E(s) = -1/2 s^T W s        never rises under an asynchronous update: W symmetric, zero diagonal
                               (flipping s_i changes E by -dS_i h_i <= 0)

Storage is Hebbian (the paper's eq. 2, normalised as in Amit, Gutfreund & Sompolinsky 1985):

    W = (1/N) sum_mu xi^mu xi^mu^T,  W_ii = 0         for patterns xi^mu (N,) of +-1

a sum over the patterns, not gradient descent: deepzoo/train/fit.py with the learner
deepzoo/tasks/hebbian.py fills `weights`. Random patterns are recalled up to a load of
alpha = P/N ~ 0.138 (Amit, Gutfreund & Sompolinsky 1985, "Storing infinite numbers of patterns in a
spin-glass model of neural networks", PRL 55(14)); experiments/hopfield.py measures it.

Ramsauer et al. 2020, "Hopfield networks is all you need" (ICLR 2021, arXiv:2008.02217), eq. 3: continuous
states xi (d,) and P stored patterns, the columns of X (d, P), with energy

    E(xi) = -lse(beta, X^T xi) + 1/2 xi^T xi + beta^-1 log P + 1/2 M^2       (M: the largest ||x^mu||)

    xi (..., d) ──> X^T xi (..., P) ──> softmax(beta .) ──> xi_new = X softmax(beta X^T xi)   (..., d)

whose one update (eq. 5) retrieves a stored pattern after one step, for a number of patterns exponential
in d. It is the attention of Vaswani et al. 2017 with queries xi, keys = values = the stored patterns and
scale beta in place of 1/sqrt(d) (tests/test_hopfield.py checks it against deepzoo.layers.attention).
The stored patterns are the parameter `patterns` (P, d), one a row (X^T), set directly:
variables = {"params": {"patterns": X^T}}.
"""
import jax
import jax.numpy as jnp
from flax import linen as nn


def _sign_keep(h, s):
    """sign(h), with s where h = 0 (a unit with no net input keeps its state)."""
    return jnp.where(h > 0, 1.0, jnp.where(h < 0, -1.0, s)).astype(s.dtype)


class Hopfield(nn.Module):
    """The binary Hopfield network of N units (+-1); `weights` (N, N) symmetric with a zero diagonal.

    __call__(s) is `steps` synchronous updates; recall_async runs the paper's asynchronous dynamics;
    energy(s) = -1/2 s^T W s. Weights start at zero (nothing stored): every state is then a fixed point.
    """
    num_units: int = 100
    steps: int = 1          # synchronous updates made by __call__

    def setup(self):
        self.weights = self.param("weights", nn.initializers.zeros, (self.num_units, self.num_units))

    @property
    def output_shape(self):
        """(num_units,): the recalled state of one network."""
        return (self.num_units,)

    def _check(self, s):
        if s.shape[-1] != self.num_units:
            raise ValueError(f"Hopfield network of {self.num_units} units got states of shape {tuple(s.shape)}; "
                             f"give (..., {self.num_units}) arrays of +-1.")
        return jnp.asarray(s, jnp.float32)

    def field(self, s):
        """h = W s: the net input of every unit, (..., N)."""
        return jnp.einsum("ij,...j->...i", self.weights, self._check(s))

    def energy(self, s):
        """E(s) = -1/2 s^T W s, (...,)."""
        s = self._check(s)
        return -0.5 * jnp.einsum("...i,...i->...", s, self.field(s))

    def __call__(self, s, *, train: bool = False):
        """`steps` synchronous updates, s <- sign(W s): (..., N) -> (..., N)."""
        return self.recall_sync(s, self.steps)

    def recall_sync(self, s, steps: int):
        """`steps` synchronous updates of every unit at once."""
        s = self._check(s)
        return jax.lax.fori_loop(0, steps, lambda _, s: _sign_keep(self.field(s), s), s)

    def update_unit(self, s, i):
        """One asynchronous update: unit i (an int or int array scalar) of every state s (..., N) set to sign(h_i)."""
        s = self._check(s)
        h_i = jnp.einsum("j,...j->...", self.weights[i], s)
        return s.at[..., i].set(_sign_keep(h_i, s[..., i]))

    def recall_async(self, s, key, max_sweeps: int = 20):
        """Asynchronous updates, one unit at a time, each sweep a new random order (drawn from
        fold_in(key, sweep)), until a sweep changes nothing or after max_sweeps sweeps -> (..., N).
        A whole batch shares the order; vmap over keys gives each network its own."""
        s = self._check(s)

        def sweep(carry):
            s, n, _ = carry
            order = jax.random.permutation(jax.random.fold_in(key, n), self.num_units)
            new, _ = jax.lax.scan(lambda s, i: (self.update_unit(s, i), None), s, order)
            return new, n + 1, jnp.any(new != s)

        def go_on(carry):
            _, n, changed = carry
            return changed & (n < max_sweeps)

        s, _, _ = jax.lax.while_loop(go_on, sweep, (s, jnp.zeros((), jnp.int32), jnp.ones((), bool)))
        return s


class ModernHopfield(nn.Module):
    """The continuous modern Hopfield network (Ramsauer et al. 2020, eq. 5): xi_new = X softmax(beta X^T xi).

    `patterns` (P, d) holds the stored patterns, one a row; zero (nothing stored) until set.
    """
    num_patterns: int = 1024
    features: int = 64      # d, the dimension of a pattern
    beta: float = 1.0       # inverse temperature: large beta retrieves single patterns, small averages them

    def setup(self):
        self.patterns = self.param("patterns", nn.initializers.zeros, (self.num_patterns, self.features))

    @property
    def output_shape(self):
        """(features,): the updated state pattern."""
        return (self.features,)

    def _check(self, xi):
        if xi.shape[-1] != self.features:
            raise ValueError(f"modern Hopfield network of {self.features}-dimensional patterns got states of shape "
                             f"{tuple(xi.shape)}; give (..., {self.features}) arrays.")
        return jnp.asarray(xi, jnp.float32)

    def separation(self, xi):
        """beta X^T xi: the scaled similarity of the state to every stored pattern, (..., P)."""
        return self.beta * jnp.einsum("pd,...d->...p", self.patterns, self._check(xi))

    def __call__(self, xi, *, train: bool = False):
        """One update, (..., d) -> (..., d): X softmax(beta X^T xi)."""
        p = jax.nn.softmax(self.separation(xi), axis=-1)     # (..., P)
        return jnp.einsum("...p,pd->...d", p, self.patterns)

    def energy(self, xi):
        """E(xi) = -lse(beta, X^T xi) + 1/2 xi^T xi + beta^-1 log P + 1/2 M^2, (...,)."""
        xi = self._check(xi)
        lse = jax.nn.logsumexp(self.separation(xi), axis=-1) / self.beta
        largest = jnp.max(jnp.sum(self.patterns ** 2, axis=-1))
        return -lse + 0.5 * jnp.sum(xi ** 2, axis=-1) + jnp.log(self.num_patterns) / self.beta + 0.5 * largest


MODELS = {
    "hopfield": (Hopfield, (100,)),                          # N = 100 units, one state of +-1
    "modern_hopfield": (ModernHopfield, (64,)),               # 1024 stored patterns of d = 64
}

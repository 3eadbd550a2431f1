"""The liquid state machine (Maass, Natschläger & Markram 2002, Neural Computation 14: 2531-2560): a fixed
"liquid" of leaky integrate-and-fire neurons perturbed by input spike trains, read by a linear readout.

    neurons on a 15 x 3 x 3 grid (135), 20% inhibitory; a connects to b with probability C exp(-(D(a, b)/lambda)^2)
    per 1 ms step t (lax.scan), for each neuron:
        I_exc <- I_exc e^(-1/3 ms) + s_{t-1, exc} W + u_t W_in        synaptic currents (nA), exponential decay:
        I_inh <- I_inh e^(-1/6 ms) + s_{t-1, inh} W                   3 ms after excitatory, 6 ms after inhibitory spikes
        V <- V + (1 ms / tau_m) (-V + R (I_b + I_exc + I_inh))         leaky integration, tau_m = 30 ms, R = 1 MOhm
        s_t = V >= 15 mV; then V <- 13.5 mV, held there for the refractory period (3 ms exc, 2 ms inh)
        r <- r e^(-1/30 ms) + s_t                                       the readout's low-pass filtered spikes
    u (B, T, channels) -> r (B, T, N) -> Dense -> (B, T, num_outputs): a readout at every step, as the paper's

The paper's constants (its Appendix): lambda = 2; C = 0.3 (EE), 0.2 (EI), 0.4 (IE), 0.1 (II); mean weights
A = 30 (EE), 60 (EI), -19 (IE), -19 (II) nA, each drawn from a Gamma distribution with SD half its mean;
inputs reach 30% of the neurons with A = 18 (to E), 9 (to I) nA; background current I_b = 13.5 nA; initial
potentials uniform in [13.5, 15] mV. Simplified here: static synapses (the paper's were dynamic, after Markram
et al. 1998), no transmission delays beyond the 1 ms step. Everything but the readout is fixed at initialisation;
the readout is solved by least squares (deepzoo/tasks/least_squares.py through the shared fit) or trained by
the train step: the spikes, thresholds, have no gradient.
"""
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

THRESHOLD, RESET, BACKGROUND = 15.0, 13.5, 13.5          # mV, mV, nA (R = 1 MOhm: nA x MOhm = mV)
TAU_MEMBRANE, TAU_EXC, TAU_INH, TAU_READOUT = 30.0, 3.0, 6.0, 30.0   # ms
REFRACTORY_EXC, REFRACTORY_INH = 3, 2                     # ms (steps)
CONNECT = {(0, 0): 0.3, (0, 1): 0.2, (1, 0): 0.4, (1, 1): 0.1}        # (pre inhibitory?, post inhibitory?) -> C
STRENGTH = {(0, 0): 30.0, (0, 1): 60.0, (1, 0): -19.0, (1, 1): -19.0}  # A, nA
INPUT_CONNECT, INPUT_STRENGTH = 0.3, (18.0, 9.0)         # to E, to I


def grid_positions(shape) -> np.ndarray:
    """(N, 3) integer coordinates of the neurons on a grid of `shape`."""
    return np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), -1).reshape(-1, 3)


def _gamma(key, mean, shape):
    """Weights from a Gamma distribution of mean |mean| and SD |mean| / 2, with mean's sign. Its shape parameter
    is 4, so it is a sum of 4 unit exponentials (no rejection sampler to compile)."""
    gamma4 = -jnp.log(jax.random.uniform(key, (4, *shape), minval=1e-12, maxval=1.0)).sum(0)
    return jnp.sign(mean) * gamma4 * jnp.abs(mean) / 4.0


class LiquidStateMachine(nn.Module):
    """Input spike trains (B, T, num_inputs) -> (B, T, num_outputs) (module docstring). Methods: `spikes` (the
    liquid's spike trains (B, T, N)), `features` (its filtered spikes (B, T, N), the readout's input)."""
    num_outputs: int = 4
    num_inputs: int = 4
    grid: tuple = (15, 3, 3)
    inhibitory_fraction: float = 0.2
    connectivity_lambda: float = 2.0
    weight_scale: float = 1.0          # multiplies every synaptic strength (recurrent and input)

    def setup(self):
        positions = grid_positions(self.grid)
        n = len(positions)
        distance2 = jnp.asarray(((positions[:, None] - positions[None]) ** 2).sum(-1), jnp.float32)

        def types_init(key, shape):
            return (jax.random.permutation(key, n) < round(self.inhibitory_fraction * n)).astype(jnp.float32)

        self.inhibitory = self.param("inhibitory", types_init, (n,))          # 1 for inhibitory neurons, fixed

        def recurrent_init(key, shape):
            k_connect, k_weight = jax.random.split(key)
            pre, post = self.inhibitory[:, None].astype(int), self.inhibitory[None, :].astype(int)
            table = lambda values: jnp.asarray([[values[(a, b)] for b in (0, 1)] for a in (0, 1)])[pre, post]
            p = table(CONNECT) * jnp.exp(-distance2 / self.connectivity_lambda ** 2) * (1 - jnp.eye(n))
            connected = jax.random.uniform(k_connect, shape) < p
            return jnp.where(connected, _gamma(k_weight, table(STRENGTH), shape), 0.0) * self.weight_scale

        def input_init(key, shape):
            k_connect, k_weight = jax.random.split(key)
            strength = jnp.where(self.inhibitory > 0, INPUT_STRENGTH[1], INPUT_STRENGTH[0])
            connected = jax.random.uniform(k_connect, shape) < INPUT_CONNECT
            return jnp.where(connected, _gamma(k_weight, jnp.broadcast_to(strength, shape), shape), 0.0) * self.weight_scale

        self.recurrent = self.param("recurrent", recurrent_init, (n, n))                 # W (pre, post), nA, fixed
        self.input_weights = self.param("input_weights", input_init, (self.num_inputs, n))   # W_in, nA, fixed
        self.initial_potential = self.param(
            "initial_potential", lambda key, shape: jax.random.uniform(key, shape, minval=RESET, maxval=THRESHOLD), (n,))
        self.readout = nn.Dense(self.num_outputs)

    def _run(self, u):
        """(spikes (B, T, N), filtered spikes r (B, T, N)) for inputs u (B, T, num_inputs)."""
        batch, n = u.shape[0], self.recurrent.shape[0]
        inhibitory = jax.lax.stop_gradient(self.inhibitory)
        w, w_in = jax.lax.stop_gradient(self.recurrent), jax.lax.stop_gradient(self.input_weights)
        refractory_steps = jnp.where(inhibitory > 0, REFRACTORY_INH, REFRACTORY_EXC)
        decay = lambda tau: math.exp(-1.0 / tau)

        def step(carry, u_t):
            v, refractory, i_exc, i_inh, filtered, s = carry
            i_exc = i_exc * decay(TAU_EXC) + (s * (1 - inhibitory)) @ w + u_t @ w_in
            i_inh = i_inh * decay(TAU_INH) + (s * inhibitory) @ w
            v = v + (-v + BACKGROUND + i_exc + i_inh) / TAU_MEMBRANE
            v = jnp.where(refractory > 0, RESET, v)
            s = (v >= THRESHOLD).astype(jnp.float32)
            v = jnp.where(s > 0, RESET, v)
            refractory = jnp.where(s > 0, refractory_steps, jnp.maximum(refractory - 1, 0))
            filtered = filtered * decay(TAU_READOUT) + s
            return (v, refractory, i_exc, i_inh, filtered, s), (s, filtered)

        zeros = jnp.zeros((batch, n), jnp.float32)
        v0 = jnp.broadcast_to(jax.lax.stop_gradient(self.initial_potential), (batch, n))
        carry = (v0, jnp.zeros((batch, n), jnp.int32), zeros, zeros, zeros, zeros)
        _, (spikes, filtered) = jax.lax.scan(step, carry, jnp.swapaxes(u.astype(jnp.float32), 0, 1))
        return jnp.swapaxes(spikes, 0, 1), jnp.swapaxes(filtered, 0, 1)

    def spikes(self, u):
        """The liquid's spike trains: (B, T, num_inputs) -> (B, T, N) of 0/1."""
        return self._run(u)[0]

    def features(self, u):
        """The readout's inputs, each neuron's spikes filtered with a 30 ms exponential: (B, T, N)."""
        return self._run(u)[1]

    def __call__(self, u, *, train: bool = False):
        return self.readout(self.features(u))                                               # (B, T, num_outputs)


MODELS = {
    # Maass et al.'s column of 135 neurons reading 4 spike trains of 200 ms (1 ms steps), 4 classes.
    "lsm": (LiquidStateMachine, (200, 4)),
}

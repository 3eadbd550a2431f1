"""The echo state network (Jaeger 2001; Jaeger & Haas 2004): a fixed, sparse, random recurrent reservoir of
leaky tanh units, and a linear readout solved by least squares.

    u (B, T, d) -> x_t = (1 - a) x_{t-1} + a tanh(u_t W_in + x_{t-1} W + b)      (B, T, N), x_0 = 0
               -> y_t = [x_t, u_t] W_out + c                                     (B, T, num_outputs)

H. Jaeger, "The 'echo state' approach to analysing and training recurrent neural networks", GMD Report 148,
2001; H. Jaeger and H. Haas, "Harnessing nonlinearity: predicting chaotic systems and saving energy in
wireless communication", Science 304, 78-80, 2004. W (N, N) has a fraction `connectivity` of nonzero
weights U(-1, 1), rescaled at initialisation so that its spectral radius (largest |eigenvalue|) is
`spectral_radius`: below 1 the reservoir forgets its initial state (the echo state property; a = leak_rate).
W_in U(-input_scale, input_scale), b U(-bias_scale, bias_scale). Only W_out is learned, by ridge least
squares on the states (deepzoo/tasks/least_squares.py through the shared fit, deepzoo/train/fit.py), its
`washout` first steps of every sequence left out (the transient from x_0). `generate` runs the trained
network closed-loop: its output is its next input (d = num_outputs), the free-running prediction of the
Mackey-Glass series (experiments/esn.py).
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def _spectral_radius(w):
    """max |eigenvalue| of w, computed on the host (XLA has no eigenvalues of a general matrix off CPU)."""
    return jax.pure_callback(lambda m: np.float32(np.abs(np.linalg.eigvals(np.asarray(m, np.float64))).max()),
                             jax.ShapeDtypeStruct((), jnp.float32), w)


class EchoStateNetwork(nn.Module):
    """(B, T, d) inputs -> (B, T, num_outputs) through a reservoir of `reservoir_size` units (module docstring)."""
    reservoir_size: int = 1000
    num_outputs: int = 1
    spectral_radius: float = 0.9
    connectivity: float = 0.01       # Jaeger & Haas 2004: 1% of the 1,000 x 1,000 weights
    input_scale: float = 1.0
    bias_scale: float = 0.2
    leak_rate: float = 1.0           # a: 1 is the plain (non-leaky) reservoir

    def setup(self):
        if not 0 < self.connectivity <= 1 or not 0 < self.leak_rate <= 1:
            raise ValueError(f"EchoStateNetwork: connectivity={self.connectivity} and leak_rate={self.leak_rate} "
                             "must be in (0, 1].")
        n = self.reservoir_size

        def reservoir_init(key, shape, dtype=jnp.float32):
            k_mask, k_w = jax.random.split(key)
            w = jax.random.uniform(k_w, shape, dtype, -1.0, 1.0)
            w = w * jax.random.bernoulli(k_mask, self.connectivity, shape)
            return w * (self.spectral_radius / _spectral_radius(w))

        def uniform(scale):
            return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -scale, scale)
        self.reservoir = self.param("reservoir", reservoir_init, (n, n))                     # W (N, N), fixed
        self.input_weights = nn.Dense(n, kernel_init=uniform(self.input_scale),
                                      bias_init=uniform(self.bias_scale))                   # W_in (d, N), b (N,)
        self.readout = nn.Dense(self.num_outputs)                                          # W_out (N + d, outputs)

    def _step(self, x, drive):
        """One reservoir update from the input's drive u_t W_in + b: (B, N), (B, N) -> (B, N)."""
        return (1 - self.leak_rate) * x + self.leak_rate * jnp.tanh(drive + x @ self.reservoir)

    def states(self, u, initial_state=None):
        """The reservoir's states x_1..x_T: (B, T, d) -> (B, T, N), from x_0 = 0 or `initial_state` (B, N)."""
        drives = self.input_weights(u.astype(jnp.float32))                                # (B, T, N)
        x0 = jnp.zeros(drives[:, 0].shape, drives.dtype) if initial_state is None else initial_state
        _, xs = jax.lax.scan(lambda x, d: (self._step(x, d),) * 2, x0, jnp.swapaxes(drives, 0, 1))
        return jnp.swapaxes(xs, 0, 1)                                                      # (B, T, N)

    def features(self, u):
        """The readout's inputs [x_t, u_t]: (B, T, d) -> (B, T, N + d)."""
        return jnp.concatenate([self.states(u), u.astype(jnp.float32)], -1)

    def __call__(self, u, *, train: bool = False):
        return self.readout(self.features(u))                                              # (B, T, outputs)

    def generate(self, u, steps: int):
        """Reads u (B, T, d) teacher-forced, then runs closed-loop for `steps` more, each output the next
        input: -> (B, steps, num_outputs), the predictions of u's continuation."""
        xs = self.states(u)
        x, y = xs[:, -1], self.readout(jnp.concatenate([xs[:, -1], u[:, -1].astype(jnp.float32)], -1))

        def step(carry, _):
            x, y = carry
            x = self._step(x, self.input_weights(y))
            y = self.readout(jnp.concatenate([x, y], -1))
            return (x, y), y

        _, ys = jax.lax.scan(step, (x, y), None, length=steps - 1)
        return jnp.concatenate([y[:, None], jnp.swapaxes(ys, 0, 1)], 1)                    # (B, steps, outputs)


MODELS = {
    "esn": (EchoStateNetwork, (1200, 1)),   # a scalar series of 1,200 steps (Mackey-Glass)
}

"""The extreme learning machine (Huang, Zhu & Siew 2006): a random hidden layer that is never trained, then
a linear readout solved by least squares.

    x (B, ...) -> flattened (B, d) -> h = g(x W + b)   (B, L)   W (d, L), b (L,) drawn once, kept fixed
               -> y = h beta + c                        (B, num_outputs)

G.-B. Huang, Q.-Y. Zhu and C.-K. Siew, "Extreme learning machine: theory and applications",
Neurocomputing 70, 489-501, 2006. Their Theorem 2.1: with as many hidden units as training examples, H is
invertible with probability one and the readout fits the training set exactly; with fewer, beta = H^+ T
is the least-squares fit of smallest norm. W and b are drawn uniformly from [-init_scale, init_scale] (the
paper's [-1, 1]; inputs of hundreds of pixels saturate the sigmoid unless the scale shrinks with d). The
readout is fitted by deepzoo/tasks/least_squares.py through the shared fit (deepzoo/train/fit.py), with a
ridge penalty if given (the regularised ELM of Huang et al. 2012); nothing here descends a gradient.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS = {"sigmoid": nn.sigmoid, "tanh": jnp.tanh, "relu": nn.relu}


def _uniform(scale: float):
    """U(-scale, scale), the paper's draw of the hidden weights and biases."""
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -scale, scale)


class ExtremeLearningMachine(nn.Module):
    """(B, ...) inputs -> (B, num_outputs) through num_hidden fixed random units (module docstring)."""
    num_hidden: int = 1000
    num_outputs: int = 10
    activation: str = "sigmoid"
    init_scale: float = 1.0

    def setup(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"ExtremeLearningMachine: activation={self.activation!r}; use one of "
                             f"{', '.join(ACTIVATIONS)}.")
        if self.num_hidden < 1:
            raise ValueError(f"ExtremeLearningMachine: num_hidden={self.num_hidden} must be >= 1.")
        scale = _uniform(self.init_scale)
        self.hidden = nn.Dense(self.num_hidden, kernel_init=scale, bias_init=scale)   # hidden/kernel (d, L), fixed
        self.readout = nn.Dense(self.num_outputs)                                     # readout/kernel (L, outputs)

    def features(self, x):
        """The random hidden layer's outputs H: (B, ...) -> (B, num_hidden)."""
        return ACTIVATIONS[self.activation](self.hidden(x.reshape(x.shape[0], -1).astype(jnp.float32)))

    def __call__(self, x, *, train: bool = False):
        return self.readout(self.features(x))                                         # (B, num_outputs)


MODELS = {
    "elm": (ExtremeLearningMachine, (28, 28, 1)),   # MNIST digits; any input shape is flattened
}

"""The radial basis function network (Broomhead & Lowe 1988): Gaussian bumps, then a linear readout.

    x (B, d) -> phi_k(x) = exp(-||x - c_k||^2 / (2 s_k^2)), k = 1..K  (B, K)   centres c (K, d), widths s (K,)
             -> y = phi W + b                                        (B, num_outputs)

D. S. Broomhead and D. Lowe, "Multivariable functional interpolation and adaptive networks", Complex
Systems 2, 321-355, 1988. Nothing here descends a gradient: the centres come from k-means and the widths
from a rule on the centres (deepzoo/tasks/kmeans.py), the readout from least squares
(deepzoo/tasks/least_squares.py), each through the shared fit (deepzoo/train/fit.py).
"""
import flax.linen as nn
import jax.numpy as jnp


class GaussianBasis(nn.Module):
    """K Gaussian bumps: (B, d) -> (B, K). Centres start N(0, 1), widths 1; k-means and a width rule set them."""
    num_centres: int

    @nn.compact
    def __call__(self, x):
        centres = self.param("centres", nn.initializers.normal(1.0), (self.num_centres, x.shape[-1]))  # (K, d)
        widths = self.param("widths", nn.initializers.ones, (self.num_centres,))                       # (K,)
        d2 = jnp.sum((x[:, None, :] - centres) ** 2, axis=-1)                                          # (B, K)
        return jnp.exp(-d2 / (2.0 * widths**2))                                                        # (B, K)


class RBFNetwork(nn.Module):
    """RBF network: inputs (B, ...), flattened to (B, d) -> (B, num_outputs) through K Gaussian units."""
    num_centres: int = 100
    num_outputs: int = 1

    def setup(self):
        if self.num_centres < 1:
            raise ValueError(f"RBFNetwork: num_centres={self.num_centres} must be >= 1.")
        self.basis = GaussianBasis(self.num_centres)     # params: basis/centres (K, d), basis/widths (K,)
        self.readout = nn.Dense(self.num_outputs)        # params: readout/kernel (K, num_outputs), readout/bias

    def features(self, x):
        """The hidden layer, the K basis functions' values: (B, ...) -> (B, K)."""
        return self.basis(x.reshape(x.shape[0], -1).astype(jnp.float32))

    def __call__(self, x, *, train: bool = False):
        return self.readout(self.features(x))            # (B, num_outputs)


MODELS = {
    "rbf_network": (RBFNetwork, (1,)),   # a function of one variable (experiments/universal_approximation.py)
}

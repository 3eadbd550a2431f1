"""The perceptron (Rosenblatt 1958): one linear threshold unit.

    x (B, d) -> a = w . x + b (B,) -> y = sign(a) (B,) in {-1, +1} (0 on the boundary)

F. Rosenblatt, "The perceptron: a probabilistic model for information storage and organization in the
brain", Psychological Review 65(6), 386-408, 1958. The weights start at zero, as in Novikoff's (1962)
convergence proof; they are learned by the perceptron rule, the gradient of the perceptron criterion
(deepzoo/tasks/perceptron.py).
"""
import flax.linen as nn
import jax.numpy as jnp


class Perceptron(nn.Module):
    """A linear threshold unit: inputs (B, ...), flattened to (B, d) -> sign(w . x + b), shape (B,)."""

    @property
    def output_shape(self):
        """(): one sign per example."""
        return ()

    @nn.compact
    def net_input(self, x):
        """The weighted sum before the threshold, a = w . x + b: (B, ...) -> (B,)."""
        x = x.reshape(x.shape[0], -1).astype(jnp.float32)                 # (B, d)
        w = self.param("w", nn.initializers.zeros, (x.shape[-1],))        # (d,)
        b = self.param("b", nn.initializers.zeros, ())                    # ()
        return x @ w + b                                                  # (B,)

    def __call__(self, x, *, train: bool = False):
        """The unit's output sign(a) in {-1, +1} (0 for a point on the decision boundary): (B, ...) -> (B,)."""
        return jnp.sign(self.net_input(x))


MODELS = {
    "perceptron": (Perceptron, (2,)),   # points of the plane, so that the decision boundary can be drawn
}

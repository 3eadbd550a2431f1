"""The self-organising map (Kohonen 1982): a grid of units, each holding a weight vector in the input space.

    x (B, d) -> ||x - w_ij||^2 for every unit (i, j) of the rows x cols grid -> (B, rows, cols)
                the best-matching unit is the argmin; the map is its codebook (rows, cols, d)

T. Kohonen, "Self-organized formation of topologically correct feature maps", Biological Cybernetics 43,
59-69, 1982. The module only measures distances; Kohonen's update (move the best-matching unit and its grid
neighbours towards x) is the gradient of the neighbourhood-weighted quantisation error in
deepzoo/tasks/som.py, taken by the library's one train step.
"""
import flax.linen as nn
import jax.numpy as jnp


class SelfOrganizingMap(nn.Module):
    """Kohonen map: inputs (B, ...), flattened to (B, d) -> squared distances to every unit, (B, rows, cols)."""
    rows: int = 10
    cols: int = 10
    init_scale: float = 1.0   # the codebook starts uniform in [0, init_scale) (Kohonen: random initial weights)

    @property
    def output_shape(self):
        """(rows, cols): one squared distance per unit of the grid."""
        return (self.rows, self.cols)

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"SOM grid {self.rows}x{self.cols}: rows and cols must be >= 1.")
        x = x.reshape(x.shape[0], -1).astype(jnp.float32)                            # (B, d)
        codebook = self.param("codebook", nn.initializers.uniform(self.init_scale),
                              (self.rows, self.cols, x.shape[-1]))                   # (rows, cols, d)
        return jnp.sum((x[:, None, None, :] - codebook) ** 2, axis=-1)               # (B, rows, cols)


MODELS = {
    "som": (SelfOrganizingMap, (64,)),   # scikit-learn's 8x8 digits, flattened
}

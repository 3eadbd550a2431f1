"""Normalisations that Flax does not ship: local response normalisation (AlexNet, VGG A-LRN, GoogLeNet)."""
import jax
import jax.numpy as jnp


def local_response_norm(x, size: int = 5, *, k: float = 2.0, alpha: float = 1e-4, beta: float = 0.75,
                        average: bool = False):
    """Krizhevsky et al. (2012), section 3.3: each activation of an NHWC input is divided by
    (k + alpha * sum of the squares of the `size` channels centred on it)^beta; no parameters.

    average=True divides alpha by `size` (Caffe's convention, hence GoogLeNet's, and PyTorch's); the
    defaults are the AlexNet paper's. Squares are summed in float32: in bf16 the small ones are lost.
    """
    squares = jnp.square(x.astype(jnp.float32))
    window_sum = jax.lax.reduce_window(squares, 0.0, jax.lax.add, (1, 1, 1, size), (1, 1, 1, 1),
                                       ((0, 0), (0, 0), (0, 0), (size // 2, (size - 1) // 2)))
    scale = alpha / size if average else alpha
    return (x / (k + scale * window_sum) ** beta).astype(x.dtype)

"""RealNVP: Dinh, Sohl-Dickstein & Bengio 2017, "Density estimation using Real NVP", ICLR 2017
(https://arxiv.org/abs/1605.08803), with MLP coupling networks on flattened images.

    x in (0, 1)^D -> y = logit(alpha + (1 - 2 alpha) x)                 (their Section 4.1, alpha = 0.05)
    -> [affine coupling with mask b] x num_couplings, b alternating checkerboard / its complement:
       y' = b*y + (1 - b)*(y * exp(s(b*y)) + t(b*y)),   log|det| = sum (1 - b) s(b*y)
    -> z, log p(x) = log N(z; 0, I) + sum of the log-determinants (the logit's included)
s and t come from one MLP (hidden units, ReLU); s = scale * tanh(.) keeps the first steps stable.
Every layer is invertible in closed form (`inverse`), so sampling is z ~ N(0, I) pushed backwards.
The task (tasks/flow.py) dequantises the pixels and reports bits per dimension.
"""
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def checkerboard(shape: Sequence[int], parity: int) -> np.ndarray:
    """1 where (row + column) % 2 == parity, flattened: the half of the pixels a coupling keeps."""
    h, w = shape[0], shape[1] if len(shape) > 1 else 1
    board = (np.add.outer(np.arange(h), np.arange(w)) % 2 == parity).astype(np.float32)
    return np.repeat(board[..., None], shape[2] if len(shape) > 2 else 1, -1).reshape(-1)


class AffineCoupling(nn.Module):
    """One affine coupling layer of RealNVP (Dinh, Sohl-Dickstein & Bengio 2017) on flattened
    inputs (B, D): the checkerboard half `parity` passes unchanged and sets the scale and shift of the other."""
    image_shape: Sequence[int]
    parity: int               # which checkerboard half is kept (passed through unchanged)
    hidden: int = 512
    depth: int = 2

    def setup(self):
        self.mask = jnp.asarray(checkerboard(self.image_shape, self.parity))
        self.layers = [nn.Dense(self.hidden, name=f"hidden_{i}") for i in range(self.depth)]
        dims = int(np.prod(self.image_shape))
        # zero-initialised: every coupling starts as the identity
        self.scale_shift = nn.Dense(2 * dims, kernel_init=nn.initializers.zeros)
        self.scale = self.param("scale", nn.initializers.ones, (dims,))

    def _scale_shift(self, kept):
        h = kept
        for layer in self.layers:
            h = nn.relu(layer(h))
        s, t = jnp.split(self.scale_shift(h), 2, axis=-1)
        free = 1.0 - self.mask
        return self.scale * jnp.tanh(s) * free, t * free

    def __call__(self, y):
        """y (B, D) -> (the coupled y (B, D), log|det| of the Jacobian (B,))."""
        kept = y * self.mask
        s, t = self._scale_shift(kept)
        return kept + (1.0 - self.mask) * (y * jnp.exp(s) + t), jnp.sum(s, axis=-1)

    def inverse(self, y):
        """The inverse of __call__: the coupled y (B, D) -> y (B, D)."""
        kept = y * self.mask
        s, t = self._scale_shift(kept)
        return kept + (1.0 - self.mask) * ((y - t) * jnp.exp(-s))


class RealNVP(nn.Module):
    """RealNVP (Dinh, Sohl-Dickstein & Bengio 2017) with MLP couplings: images (B, *image_shape) in
    (0, 1) -> {"z", "log_det", "log_prob"} (see __call__); `inverse` maps codes back to images."""
    image_shape: Sequence[int] = (28, 28, 1)
    num_couplings: int = 8
    hidden: int = 512
    depth: int = 2
    alpha: float = 0.05
    dtype: Any = jnp.float32        # kept f32: log-determinants do not survive bf16
    param_dtype: Any = jnp.float32

    def setup(self):
        self.couplings = [AffineCoupling(tuple(self.image_shape), i % 2, self.hidden, self.depth, name=f"coupling_{i}")
                          for i in range(self.num_couplings)]

    def _preprocess(self, x):
        """(0, 1) -> logit space, and the log-determinant of that map per example."""
        p = self.alpha + (1 - 2 * self.alpha) * x
        y = jnp.log(p) - jnp.log1p(-p)
        log_det = jnp.sum(np.log(1 - 2 * self.alpha) - jnp.log(p) - jnp.log1p(-p), axis=-1)
        return y, log_det

    def __call__(self, x, *, train: bool = False):
        """-> {"z": (batch, D), "log_det": (batch,), "log_prob": (batch,)}: log p(x) in nats, x in (0, 1)."""
        if tuple(x.shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"RealNVP expects inputs of shape (batch, {', '.join(map(str, self.image_shape))}); got "
                             f"{tuple(x.shape)}. Set image_shape to the data's shape.")
        y, log_det = self._preprocess(x.reshape(x.shape[0], -1).astype(jnp.float32))
        for coupling in self.couplings:
            y, ld = coupling(y)
            log_det = log_det + ld
        log_normal = -0.5 * jnp.sum(y ** 2 + np.log(2 * np.pi), axis=-1)
        return {"z": y, "log_det": log_det, "log_prob": log_normal + log_det}

    def inverse(self, z):
        """Codes (batch, D) -> images in (0, 1): sampling is inverse(normal draws)."""
        y = z
        for coupling in reversed(self.couplings):
            y = coupling.inverse(y)
        x = (jax.nn.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha)
        return x.reshape(z.shape[0], *self.image_shape)


MODELS = {"realnvp_mnist": (RealNVP, (28, 28, 1))}

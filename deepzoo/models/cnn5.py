"""The five-layer CNN of deep double descent: Nakkiran et al. 2019, "Deep double descent: where bigger
models and more data hurt", ICLR 2020 (https://arxiv.org/abs/1912.02292), Appendix B.1.

    x -> [Conv3 k   -> BN -> ReLU]
      -> [Conv3 2k  -> BN -> ReLU -> MaxPool 2]
      -> [Conv3 4k  -> BN -> ReLU -> MaxPool 2]
      -> [Conv3 8k  -> BN -> ReLU -> MaxPool 2]
      -> global max pool -> Dense(num_classes, no bias)

Four convolutions of widths [k, 2k, 4k, 8k] and one linear layer; k = 64 is the full-size network the
paper sweeps up to on CIFAR-10 (32x32x3; the last max pool there is their 4x4 pool). The same layout runs
on 1-D signals (MNIST-1D's 40 samples: 3-tap convolutions, a channel axis added when missing), where a
width k has about 126 k^2 parameters.
"""
import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp


class CNN5(nn.Module):
    """The five-layer CNN of Nakkiran et al. 2019 (deep double descent), of width k = `width`.

    Images (B, H, W, C), or 1-D signals (B, L) or (B, L, C) -> logits (B, num_classes)."""
    width: int = 64              # k: the convolutions have k, 2k, 4k, 8k channels
    num_classes: int = 10
    batch_norm_momentum: float = 0.9
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        if x.ndim == 2:  # (batch, length): a 1-D signal with one channel
            x = x[..., None]
        x = x.astype(self.dtype)
        spatial = x.ndim - 2
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=self.batch_norm_momentum, **kw)
        for i, multiple in enumerate((1, 2, 4, 8)):
            x = nn.Conv(multiple * self.width, (3,) * spatial, padding="SAME", use_bias=False,
                        name=f"conv{i + 1}", **kw)(x)
            x = nn.relu(norm(name=f"norm{i + 1}")(x))
            if i > 0:
                x = nn.max_pool(x, (2,) * spatial, strides=(2,) * spatial)
        x = jnp.max(x, axis=tuple(range(1, 1 + spatial)))
        return nn.Dense(self.num_classes, use_bias=False, name="head", **kw)(x)


MODELS = {
    "cnn5": (CNN5, (32, 32, 3)),                                    # CIFAR-10, k = 64
    "cnn5_mnist1d": (functools.partial(CNN5, width=8), (40,)),      # MNIST-1D
}

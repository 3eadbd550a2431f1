"""SimCLR's networks: Chen, Kornblith, Norouzi & Hinton 2020, "A simple framework for contrastive
learning of visual representations", ICML 2020 (https://arxiv.org/abs/2002.05709), Figure 2.

    x -> encoder f -> h (the representation a linear probe reads) -> projection g -> z (the loss's space)
    f, for 28x28 digits: [Conv 3x3 -> BatchNorm -> ReLU] with 32, 64 (stride 2), 128 (stride 2), 128
                         -> global average pool: h of 128
    g: Dense(128) -> BatchNorm -> ReLU -> Dense(64)      (their MLP head; the loss uses z, the probe h)
Returns {"embedding": h, "projection": z}; `embed` gives h alone (model.apply(v, x, method="embed")).
"""
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers.checks import check_images
from deepzoo.layers.one_channel_conv import Conv


class SimCLR(nn.Module):
    """SimCLR's encoder f and projection head g (Chen, Kornblith, Norouzi & Hinton 2020), sized for
    digits: images (B, H, W, channels) -> {"embedding": h (B, widths[-1]), "projection": z
    (B, projection_dim)}, float32."""
    widths: Sequence[int] = (32, 64, 128, 128)
    strides: Sequence[int] = (1, 2, 2, 1)
    projection_dim: int = 64
    channels: int = 1
    dtype: Any = jnp.float32

    def setup(self):
        self.convs = [Conv(w, (3, 3), strides=s, padding="SAME", use_bias=False, dtype=self.dtype, name=f"conv{i + 1}")
                      for i, (w, s) in enumerate(zip(self.widths, self.strides))]
        self.norms = [nn.BatchNorm(momentum=0.9, dtype=self.dtype, name=f"conv{i + 1}_norm")
                      for i in range(len(self.widths))]
        self.head_hidden = nn.Dense(self.widths[-1], use_bias=False, dtype=self.dtype)
        self.head_norm = nn.BatchNorm(momentum=0.9, dtype=self.dtype)
        self.head_out = nn.Dense(self.projection_dim, dtype=self.dtype)

    def embed(self, x, *, train: bool = False):
        """images (B, H, W, channels) -> h (B, widths[-1]), float32: what a linear probe reads."""
        check_images(x, "SimCLR encoder", self.channels)
        h = x.astype(self.dtype)
        for conv, norm in zip(self.convs, self.norms):
            h = nn.relu(norm(conv(h), use_running_average=not train))
        return jnp.mean(h, axis=(1, 2)).astype(jnp.float32)

    def __call__(self, x, *, train: bool = False):
        h = self.embed(x, train=train)
        z = self.head_out(nn.relu(self.head_norm(self.head_hidden(h), use_running_average=not train)))
        return {"embedding": h, "projection": z.astype(jnp.float32)}


MODELS = {"simclr_mnist": (functools.partial(SimCLR), (28, 28, 1))}

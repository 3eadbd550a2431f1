"""The DDPM U-Net: Ho, Jain & Abbeel 2020, "Denoising diffusion probabilistic models", NeurIPS 2020
(https://arxiv.org/abs/2006.11239), Appendix B and the authors' diffusion_tf/models/unet.py.

    x_t (B, H, W, C), t (B,) -> eps_theta(x_t, t) (B, H, W, C)
    t -> sinusoidal embedding (ch) -> Dense(4 ch) -> swish -> Dense(4 ch)            = temb
    conv_in 3x3 (ch)
    down:   per level: num_res_blocks x [ResBlock(ch * mult) (+ self-attention at attn_resolutions)],
            then a 3x3 stride-2 conv (not after the last level); every output is kept for a skip
    middle: ResBlock, self-attention, ResBlock
    up:     per level, coarsest first: (num_res_blocks + 1) x [concat skip -> ResBlock (+ attention)],
            then nearest-neighbour x2 and a 3x3 conv (not after the finest level)
    GroupNorm -> swish -> conv_out 3x3 (zero-initialised)
    ResBlock(x): GN -> swish -> conv 3x3 -> + Dense(swish(temb)) -> GN -> swish -> dropout -> conv 3x3
                 (zero-initialised), + x (through a 1x1 "nin" projection when the width changes)
CIFAR-10 (32x32): ch 128, mult (1, 2, 2, 2), 2 blocks per level, attention at 16x16, dropout 0.1,
GroupNorm of 32 groups: 35,746,307 parameters (the paper's 35.7M). unet_ddpm_mnist is the same layout
at 28x28 sized for a CPU: ch 16, mult (1, 2, 2), 1 block, attention at 7x7, 8 groups (280,177
parameters, 48M multiply-accumulates per image against the CIFAR-10 net's 6.2G).
"""
import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from deepzoo.layers.checks import check_images
from deepzoo.layers.one_channel_conv import Conv

# The reference code's variance-scaling init: fan-average uniform (TF's default "uniform" glorot) with
# scale 1, and 1e-10 for the layers that end a residual branch (so that each block starts as identity).
_init = functools.partial(nn.initializers.variance_scaling, mode="fan_avg", distribution="uniform")


def timestep_embedding(t, dim: int):
    """(B,) step numbers -> (B, dim): sines then cosines of t at frequencies 10000^(-k / (dim/2 - 1))."""
    half = dim // 2
    freqs = jnp.exp(-math.log(10000.0) * jnp.arange(half, dtype=jnp.float32) / (half - 1))
    angles = jnp.asarray(t, jnp.float32)[:, None] * freqs[None, :]
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


class ResBlock(nn.Module):
    """The DDPM residual block (Ho, Jain & Abbeel 2020): x (B, H, W, C) and the time embedding
    temb (B, E) -> (B, H, W, features)."""
    features: int
    groups: int
    dropout_rate: float
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, temb, *, train: bool):
        conv = functools.partial(Conv, kernel_size=(3, 3), padding="SAME", dtype=self.dtype)
        norm = functools.partial(nn.GroupNorm, num_groups=self.groups, dtype=self.dtype)
        h = conv(self.features, kernel_init=_init(1.0), name="conv1")(nn.swish(norm(name="norm1")(x)))
        h = h + nn.Dense(self.features, kernel_init=_init(1.0), dtype=self.dtype, name="temb_proj")(
            nn.swish(temb))[:, None, None, :]
        h = nn.Dropout(self.dropout_rate, deterministic=not train)(nn.swish(norm(name="norm2")(h)))
        h = conv(self.features, kernel_init=_init(1e-10), name="conv2")(h)
        if x.shape[-1] != self.features:
            x = nn.Dense(self.features, kernel_init=_init(1.0), dtype=self.dtype, name="nin_shortcut")(x)
        return x + h


class AttentionBlock(nn.Module):
    """Single-head self-attention over the H x W positions, as in the reference code."""
    groups: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        """(B, H, W, C) -> (B, H, W, C): x plus the attention's output."""
        b, height, width, c = x.shape
        h = nn.GroupNorm(num_groups=self.groups, dtype=self.dtype, name="norm")(x).reshape(b, height * width, c)
        dense = functools.partial(nn.Dense, c, dtype=self.dtype)
        q, k, v = (dense(kernel_init=_init(1.0), name=n)(h) for n in ("q", "k", "v"))
        weights = jax.nn.softmax(jnp.einsum("bic,bjc->bij", q, k) * c ** -0.5, axis=-1)
        h = dense(kernel_init=_init(1e-10), name="proj_out")(jnp.einsum("bij,bjc->bic", weights, v))
        return x + h.reshape(b, height, width, c)


class UNet(nn.Module):
    """The DDPM noise predictor (Ho, Jain & Abbeel 2020): x_t (B, image_size, image_size, channels)
    and steps t (B,) -> eps_theta (B, image_size, image_size, channels), float32."""
    image_size: int = 32
    channels: int = 3
    ch: int = 128
    ch_mult: tuple = (1, 2, 2, 2)
    num_res_blocks: int = 2
    attn_resolutions: tuple = (16,)
    dropout_rate: float = 0.1
    norm_groups: int = 32
    dtype: Any = jnp.float32

    @property
    def output_shape(self):
        """(image_size, image_size, channels): one image's shape, and the predicted noise's."""
        return (self.image_size, self.image_size, self.channels)

    @nn.compact
    def __call__(self, x, t, *, train: bool = False):
        check_images(x, "DDPM U-Net", self.channels)
        if x.shape[1:3] != (self.image_size, self.image_size):
            raise ValueError(f"DDPM U-Net expects {self.image_size}x{self.image_size} images; got {tuple(x.shape)}. "
                             f"Set its image_size.")
        if jnp.shape(t) != (x.shape[0],):
            raise ValueError(f"DDPM U-Net expects one step number per image, t of shape ({x.shape[0]},); "
                             f"got {jnp.shape(t)}.")
        block = functools.partial(ResBlock, groups=self.norm_groups, dropout_rate=self.dropout_rate, dtype=self.dtype)
        attention = functools.partial(AttentionBlock, groups=self.norm_groups, dtype=self.dtype)
        conv = functools.partial(Conv, kernel_size=(3, 3), padding="SAME", kernel_init=_init(1.0), dtype=self.dtype)

        temb = timestep_embedding(t, self.ch)
        temb = nn.Dense(4 * self.ch, kernel_init=_init(1.0), dtype=self.dtype, name="temb_dense0")(temb)
        temb = nn.Dense(4 * self.ch, kernel_init=_init(1.0), dtype=self.dtype, name="temb_dense1")(nn.swish(temb))

        skips = [conv(self.ch, name="conv_in")(x.astype(self.dtype))]
        for level, mult in enumerate(self.ch_mult):
            for i in range(self.num_res_blocks):
                h = block(self.ch * mult, name=f"down{level}_block{i}")(skips[-1], temb, train=train)
                if h.shape[1] in self.attn_resolutions:
                    h = attention(name=f"down{level}_attn{i}")(h)
                skips.append(h)
            if level != len(self.ch_mult) - 1:
                skips.append(conv(skips[-1].shape[-1], strides=(2, 2), name=f"down{level}_downsample")(skips[-1]))

        h = block(skips[-1].shape[-1], name="mid_block1")(skips[-1], temb, train=train)
        h = attention(name="mid_attn")(h)
        h = block(h.shape[-1], name="mid_block2")(h, temb, train=train)

        for level in reversed(range(len(self.ch_mult))):
            for i in range(self.num_res_blocks + 1):
                h = block(self.ch * self.ch_mult[level], name=f"up{level}_block{i}")(
                    jnp.concatenate([h, skips.pop()], axis=-1), temb, train=train)
                if h.shape[1] in self.attn_resolutions:
                    h = attention(name=f"up{level}_attn{i}")(h)
            if level != 0:
                b, height, width, c = h.shape
                h = jax.image.resize(h, (b, 2 * height, 2 * width, c), "nearest")
                h = conv(c, name=f"up{level}_upsample")(h)

        h = nn.swish(nn.GroupNorm(num_groups=self.norm_groups, dtype=self.dtype, name="norm_out")(h))
        h = Conv(self.channels, (3, 3), padding="SAME", kernel_init=_init(1e-10), dtype=self.dtype,
                 name="conv_out")(h)
        return h.astype(jnp.float32)


_T = jax.ShapeDtypeStruct((), jnp.int32)
MODELS = {
    "unet_ddpm_cifar10": (UNet, (jax.ShapeDtypeStruct((32, 32, 3), jnp.float32), _T)),
    "unet_ddpm_mnist": (functools.partial(UNet, image_size=28, channels=1, ch=16, ch_mult=(1, 2, 2),
                                          num_res_blocks=1, attn_resolutions=(7,), norm_groups=8),
                        (jax.ShapeDtypeStruct((28, 28, 1), jnp.float32), _T)),
}

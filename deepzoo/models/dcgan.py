"""DCGAN: Radford, Metz & Chintala 2016, "Unsupervised representation learning with deep convolutional
generative adversarial networks", ICLR 2016 (https://arxiv.org/abs/1511.06434), Figure 1 and Section 3.

    generator      z (100) -> ConvT 4x4 (1 -> 4x4, 8b) -> BN -> ReLU
                   -> [ConvT 4x4 / 2 -> BN -> ReLU] halving the channels: 4b, 2b, b at 8, 16, 32
                   -> ConvT 4x4 / 2 -> tanh: 64x64x3 in [-1, 1]
    discriminator  64x64x3 -> Conv 4x4 / 2, b -> LeakyReLU 0.2  (no BatchNorm on the input layer)
                   -> [Conv 4x4 / 2 -> BN -> LeakyReLU 0.2] doubling: 2b, 4b, 8b at 16, 8, 4
                   -> Conv 4x4 valid -> 1 logit
No biases (BatchNorm has them), no pooling, no dense layers; weights N(0, 0.02), BatchNorm scales
N(1, 0.02) (the reference code). With b = 64 and a 100-dim code: 3,576,704 generator and 2,765,568
discriminator parameters. The same layout at 28x28 starts from 7x7 and doubles twice (MNIST).

DCGAN holds the two players, params {"generator": ..., "discriminator": ...}, for the task `gan`:
    model.apply(v, z, method="generate")         -> images in [-1, 1]
    model.apply(v, images, method="discriminate") -> logits (B, 1)
"""
import functools
import math
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers.checks import check_images

WEIGHTS = nn.initializers.normal(0.02)


def _scale_init(key, shape, dtype=jnp.float32):
    return 1.0 + 0.02 * nn.initializers.normal(1.0)(key, shape, dtype)


def _layers(module):
    """(conv keyword arguments, BatchNorm constructor) with the paper's initialisation, for both networks."""
    kw = dict(use_bias=False, kernel_init=WEIGHTS, dtype=module.dtype, param_dtype=module.param_dtype)
    norm = functools.partial(nn.BatchNorm, momentum=0.9, scale_init=_scale_init, dtype=module.dtype,
                             param_dtype=module.param_dtype)
    return kw, norm


def _doublings(image_size: int) -> tuple[int, int]:
    """(start size, number of doublings): 64 = 4 x 2^4, 28 = 7 x 2^2."""
    for start in (4, 7):
        k = math.log2(image_size / start)
        if k >= 1 and k == int(k):
            return start, int(k)
    raise ValueError(f"DCGAN image_size={image_size} must be 4 or 7 times a power of two (64, 32, 28, ...).")


class Generator(nn.Module):
    """The DCGAN generator (Radford, Metz & Chintala 2016): codes (B, latent_dim) -> images
    (B, image_size, image_size, channels) in [-1, 1], float32."""
    image_size: int = 64
    channels: int = 3
    base_channels: int = 64
    latent_dim: int = 100
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @property
    def output_shape(self):
        """(image_size, image_size, channels): the shape of one generated image."""
        return (self.image_size, self.image_size, self.channels)

    @nn.compact
    def __call__(self, z, *, train: bool = False):
        if z.ndim != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(f"DCGAN generator expects codes of shape (batch, {self.latent_dim}); got {tuple(z.shape)}.")
        start, k = _doublings(self.image_size)
        kw, norm = _layers(self)
        norm = functools.partial(norm, use_running_average=not train)
        width = self.base_channels * 2 ** (k - 1)
        x = z.astype(self.dtype)[:, None, None, :]
        x = nn.ConvTranspose(width, (start, start), padding="VALID", name="project", **kw)(x)
        x = nn.relu(norm(name="project_norm")(x))
        for i in range(k - 1):
            width //= 2
            x = nn.ConvTranspose(width, (4, 4), strides=(2, 2), padding="SAME", name=f"up{i + 1}", **kw)(x)
            x = nn.relu(norm(name=f"up{i + 1}_norm")(x))
        x = nn.ConvTranspose(self.channels, (4, 4), strides=(2, 2), padding="SAME", name="to_image", **kw)(x)
        return jnp.tanh(x).astype(jnp.float32)


class Discriminator(nn.Module):
    """The DCGAN discriminator (Radford, Metz & Chintala 2016): images
    (B, image_size, image_size, channels) -> logits (B, num_outputs), float32."""
    image_size: int = 64
    channels: int = 3
    base_channels: int = 64
    num_outputs: int = 1
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, "DCGAN discriminator", self.channels)
        if x.shape[1:3] != (self.image_size, self.image_size):
            raise ValueError(f"DCGAN discriminator expects {self.image_size}x{self.image_size} images; got "
                             f"{tuple(x.shape)}.")
        start, k = _doublings(self.image_size)
        kw, norm = _layers(self)
        norm = functools.partial(norm, use_running_average=not train)
        leaky = functools.partial(nn.leaky_relu, negative_slope=0.2)
        x = leaky(nn.Conv(self.base_channels, (4, 4), strides=2, padding=((1, 1), (1, 1)), name="down1", **kw)(
            x.astype(self.dtype)))
        for i in range(1, k):
            x = nn.Conv(self.base_channels * 2 ** i, (4, 4), strides=2, padding=((1, 1), (1, 1)), name=f"down{i + 1}",
                        **kw)(x)
            x = leaky(norm(name=f"down{i + 1}_norm")(x))
        x = nn.Conv(self.num_outputs, (start, start), padding="VALID", name="logit", **kw)(x)
        return x.reshape(x.shape[0], self.num_outputs).astype(jnp.float32)


class DCGAN(nn.Module):
    """The generator and the discriminator as one model with one parameter tree per player."""
    image_size: int = 64
    channels: int = 3
    base_channels: int = 64
    latent_dim: int = 100
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    def setup(self):
        kw = dict(image_size=self.image_size, channels=self.channels, base_channels=self.base_channels,
                  dtype=self.dtype, param_dtype=self.param_dtype)
        self.generator = Generator(latent_dim=self.latent_dim, **kw)
        self.discriminator = Discriminator(**kw)

    @property
    def image_shape(self):
        """(image_size, image_size, channels): the shape of one image."""
        return (self.image_size, self.image_size, self.channels)

    def generate(self, z, *, train: bool = False):
        """codes z (B, latent_dim) -> images (B, *image_shape) in [-1, 1]."""
        return self.generator(z, train=train)

    def discriminate(self, images, *, train: bool = False):
        """images (B, *image_shape) -> the discriminator's logits (B, 1)."""
        return self.discriminator(images, train=train)

    def __call__(self, images, *, train: bool = False):
        """The discriminator's logits for `images`, and as many samples (from z = 0) to build both players."""
        z = jnp.zeros((images.shape[0], self.latent_dim), self.dtype)
        return {"logits": self.discriminate(images, train=train), "samples": self.generate(z, train=train)}


MODELS = {
    "dcgan": (DCGAN, (64, 64, 3)),
    "dcgan_mnist": (functools.partial(DCGAN, image_size=28, channels=1), (28, 28, 1)),
    "dcgan_generator": (Generator, (100,)),
    "dcgan_discriminator": (Discriminator, (64, 64, 3)),
    "dcgan_generator_mnist": (functools.partial(Generator, image_size=28, channels=1), (100,)),
    "dcgan_discriminator_mnist": (functools.partial(Discriminator, image_size=28, channels=1), (28, 28, 1)),
}

"""SRResNet and SRGAN: Ledig et al. 2017, "Photo-realistic single image super-resolution using a generative
adversarial network", CVPR 2017 (https://arxiv.org/abs/1609.04802), Figure 4.

    generator (SRResNet)   low resolution (B, h, w, 3) in [0, 1]
        Conv 9x9, 64 -> PReLU                                                   (B, h, w, 64)   = skip
        16 x [Conv 3x3, 64 -> BN -> PReLU -> Conv 3x3, 64 -> BN, + block input] (B, h, w, 64)
        Conv 3x3, 64 -> BN, + skip                                              (B, h, w, 64)
        2 x [Conv 3x3, 256 -> pixel shuffle x2 -> PReLU]                        (B, 4h, 4w, 64)
        Conv 9x9, 3                                                             (B, 4h, 4w, 3)  about [-1, 1]
        (bicubic_skip: + the input enlarged 4x by bicubic interpolation, VDSR's residual learning; not the paper's)
    discriminator          high resolution (B, H, W, 3) in [-1, 1]
        Conv 3x3, 64 -> LeakyReLU 0.2                                           (B, H, W, 64)
        7 x [Conv 3x3 -> BN -> LeakyReLU]: 64 /2, 128, 128 /2, 256, 256 /2, 512, 512 /2   (B, H/16, W/16, 512)
        Dense 1024 -> LeakyReLU -> Dense 1                                      (B, 1) logits
The paper scales low-resolution inputs to [0, 1] and high-resolution images to [-1, 1], and takes its MSE there.
The residual blocks run at the low resolution; the sub-pixel convolutions (Shi et al. 2016) upsample at the end.
PReLU has one slope per layer, started at 0.25 (He et al. 2015, as torch's default). The generator has 1,549,462
parameters (Lim et al. 2017 list SRResNet at 1.5M) and takes 1.28 GMACs from 24 x 24 to 96 x 96; the
discriminator's dense layer depends on the image size: 23,565,505 parameters at the paper's 96 x 96 crops,
9,409,729 at 48 x 48.

SRGAN holds the two players, params {"generator": ..., "discriminator": ...}, for the task `super_resolution`:
    model.apply(v, low, method="generate")          -> high resolution (B, 4h, 4w, 3)
    model.apply(v, images, method="discriminate")   -> logits (B, 1)
"""
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from deepzoo.layers.checks import check_images


def pixel_shuffle(x, r: int):
    """(B, h, w, C r^2) -> (B, h r, w r, C): channel c r^2 + i r + j goes to pixel (i, j) of its r x r block,
    torch's PixelShuffle order (Shi et al. 2016's periodic shuffling)."""
    B, h, w, c = x.shape
    x = x.reshape(B, h, w, c // (r * r), r, r)
    return x.transpose(0, 1, 4, 2, 5, 3).reshape(B, h * r, w * r, c // (r * r))


class Generator(nn.Module):
    """SRResNet (module docstring): low resolution (B, h, w, 3) in [0, 1] -> (B, h scale, w scale, 3), float32."""
    blocks: int = 16
    features: int = 64
    scale: int = 4
    # Residual learning (Kim et al. 2016, VDSR): the output is the input's bicubic enlargement plus what the network
    # adds, its last convolution started at zero. Not the paper's; it lets a short training start at bicubic's
    # quality instead of far below it.
    bicubic_skip: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, "SRResNet", 3)
        low = x
        if self.scale < 2 or self.scale & (self.scale - 1):
            raise ValueError(f"SRResNet upsamples by powers of two (2, 4, 8); got scale={self.scale}.")
        conv = functools.partial(nn.Conv, dtype=self.dtype)
        norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9, dtype=self.dtype)
        prelu = lambda name: nn.PReLU(negative_slope_init=0.25, name=name)
        x = prelu("prelu_in")(conv(self.features, (9, 9), name="conv_in")(x.astype(self.dtype)))
        skip = x
        for i in range(self.blocks):
            y = prelu(f"block{i}_prelu")(norm(name=f"block{i}_norm1")(conv(self.features, (3, 3), name=f"block{i}_conv1")(x)))
            x = x + norm(name=f"block{i}_norm2")(conv(self.features, (3, 3), name=f"block{i}_conv2")(y))
        x = skip + norm(name="trunk_norm")(conv(self.features, (3, 3), name="trunk_conv")(x))
        for i in range(self.scale.bit_length() - 1):                       # x2 per sub-pixel convolution
            x = conv(self.features * 4, (3, 3), name=f"up{i}_conv")(x)
            x = prelu(f"up{i}_prelu")(pixel_shuffle(x, 2))
        if not self.bicubic_skip:
            return conv(3, (9, 9), name="conv_out")(x).astype(jnp.float32)
        B, h, w, c = low.shape
        enlarged = jax.image.resize(low.astype(jnp.float32), (B, h * self.scale, w * self.scale, c), "bicubic")
        added = conv(3, (9, 9), kernel_init=nn.initializers.zeros, name="conv_out")(x).astype(jnp.float32)
        return 2.0 * enlarged - 1.0 + added                                 # [0, 1] -> the output's [-1, 1]


class Discriminator(nn.Module):
    """SRGAN's discriminator (module docstring): images (B, image_size, image_size, 3) -> logits (B, num_outputs),
    float32."""
    image_size: int = 96
    num_outputs: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, "SRGAN discriminator", 3)
        if x.shape[1:3] != (self.image_size, self.image_size):
            raise ValueError(f"the SRGAN discriminator is built for {self.image_size} x {self.image_size} images "
                             f"(its dense layer); got {tuple(x.shape)}: set image_size to the crops' size.")
        leaky = functools.partial(nn.leaky_relu, negative_slope=0.2)
        x = leaky(nn.Conv(64, (3, 3), dtype=self.dtype, name="conv0")(x.astype(self.dtype)))
        for i, (features, stride) in enumerate(((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2))):
            x = nn.Conv(features, (3, 3), strides=stride, dtype=self.dtype, name=f"conv{i + 1}")(x)
            x = leaky(nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype, name=f"norm{i + 1}")(x))
        x = leaky(nn.Dense(1024, dtype=self.dtype, name="dense")(x.reshape(x.shape[0], -1)))
        return nn.Dense(self.num_outputs, dtype=self.dtype, name="logit")(x).astype(jnp.float32)


class SRGAN(nn.Module):
    """The generator and the discriminator as one model with one parameter tree per player."""
    image_size: int = 96          # of the high-resolution crops the discriminator judges
    blocks: int = 16
    scale: int = 4
    bicubic_skip: bool = False    # the generator's (see Generator)
    dtype: Any = jnp.float32

    def setup(self):
        self.generator = Generator(blocks=self.blocks, scale=self.scale, bicubic_skip=self.bicubic_skip, dtype=self.dtype)
        self.discriminator = Discriminator(image_size=self.image_size, dtype=self.dtype)

    def generate(self, low, *, train: bool = False):
        """low resolution (B, h, w, 3) in [0, 1] -> (B, h scale, w scale, 3), about [-1, 1]."""
        return self.generator(low, train=train)

    def discriminate(self, images, *, train: bool = False):
        """high resolution (B, image_size, image_size, 3) in [-1, 1] -> logits (B, 1)."""
        return self.discriminator(images, train=train)

    def __call__(self, low, *, train: bool = False):
        """The super-resolved images and the discriminator's logits for them (builds both players)."""
        high = self.generate(low, train=train)
        return {"reconstruction": high, "logits": self.discriminate(high, train=train)}


MODELS = {
    "srresnet": (Generator, (24, 24, 3)),
    "srgan": (SRGAN, (24, 24, 3)),
    "srgan_discriminator": (Discriminator, (96, 96, 3)),
}

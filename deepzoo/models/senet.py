"""SE-ResNet: Hu, Shen, Albanie, Sun & Wu, "Squeeze-and-Excitation Networks", CVPR 2018 / TPAMI 2020.

A squeeze-and-excitation block recalibrates channels: it pools each channel to one number (squeeze),
maps the C numbers through a bottleneck of two fully connected layers to C gates in (0, 1)
(excitation), and scales each channel by its gate (Fig. 1, Eq. 2-4 of the paper):

    u (H x W x C) -> global average pool -> FC C/r -> ReLU -> FC C -> sigmoid -> s (C)
    output = u * s  (per channel)

In SE-ResNet (Fig. 3) the block rescales the residual branch before the identity is added:

    x -> [1x1 -> 3x3 -> 1x1 -> BN] -> SE -> (+ shortcut(x)) -> ReLU

SE-ResNet-50 is ResNet-50 (v1.5 blocks from resnet.py, stride on the 3x3) with SE blocks of reduction
r = 16: 28,088,024 parameters. senet_mnist is resnet_mnist (a half-width CIFAR-style ResNet-14) with SE
blocks of reduction 4, since r = 16 would leave its 8-channel stage with no hidden unit.
"""
import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.models.resnet import BasicBlock, Bottleneck, ResNet, ResNetMNIST


class SqueezeExcite(nn.Module):
    """Scales each channel of an NHWC input by a gate computed from all channels' global means."""
    reduction: int = 16   # r: the hidden layer has C / r units (Section 6.1 ablation: 16 is the trade-off)
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        """(B, H, W, C) -> (B, H, W, C), each channel scaled by its gate."""
        channels = x.shape[-1]
        dense = functools.partial(nn.Dense, dtype=self.dtype, param_dtype=self.param_dtype)
        s = jnp.mean(x, axis=(1, 2))                                                  # squeeze: (N, C)
        s = nn.relu(dense(max(1, channels // self.reduction), name="reduce")(s))     # excitation: W1
        s = nn.sigmoid(dense(channels, name="expand")(s))                             # W2, gates in (0, 1)
        return x * s[:, None, None, :]                                                # scale


SEResNet50 = functools.partial(
    ResNet, stage_sizes=(3, 4, 6, 3),
    block=functools.partial(Bottleneck, squeeze_excite=functools.partial(SqueezeExcite, reduction=16)))
SENetMNIST = functools.partial(
    ResNetMNIST, block=functools.partial(BasicBlock, squeeze_excite=functools.partial(SqueezeExcite, reduction=4)))


MODELS = {
    "se_resnet50": (SEResNet50, (224, 224, 3)),
    "senet_mnist": (SENetMNIST, (28, 28, 1)),
}

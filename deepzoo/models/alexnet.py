"""AlexNet: Krizhevsky, Sutskever & Hinton (2012), "ImageNet classification with deep convolutional
neural networks", NeurIPS.

    conv1 11x11/4 -> ReLU -> max-pool 3x3/2        (pooling windows overlap: 3 > 2)
    conv2 5x5     -> ReLU -> max-pool 3x3/2
    conv3 3x3 -> ReLU -> conv4 3x3 -> ReLU -> conv5 3x3 -> ReLU -> max-pool 3x3/2
    [adaptive average pool to 6x6] -> flatten
    fc6 4096 -> ReLU -> fc7 4096 -> ReLU -> fc8 num_classes     dropout 0.5 around fc6 and fc7

One class, three tables of (channels, kernel, stride, padding) for conv1..conv5:
- "alexnet": torchvision's single tower (64, 192, 384, 256, 256 channels; 6x6 adaptive pool so any
  input size >= 63 works), 61,100,840 parameters at 224x224x3. Dropout feeds fc6 and fc7.
- "alexnet_d2l": d2l.ai's version (Zhang et al., Dive into Deep Learning, section 8.1) with the paper's
  widths (96, 256, 384, 384, 256) merged into one tower, conv1 padded by 1, no adaptive pool (224x224 ->
  5x5x256 = 6,400 features). Dropout follows fc6 and fc7, as in the paper ("dropout in the first two
  fully-connected layers").
- "alexnet_mnist": the same layout at 1/4 of d2l's widths for 28x28x1 digits: conv1 5x5/1 instead
  of 11x11/4 (a digit has no pixels to spare), fc 256 (28 -> 13 -> 6 -> 2 after the three poolings).

Neither the paper's two-GPU split (grouped conv2, conv4, conv5) nor its local response normalisation is
kept, as in torchvision and d2l. The paper initialises with N(0, 0.01) and biases of 1 in some layers; we use
He initialisation (the network's ReLUs), which trains without those tricks.
"""
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from deepzoo.layers.checks import check_images
from deepzoo.layers.one_channel_conv import Conv

# (output channels, kernel, stride, padding) of conv1 .. conv5.
TORCHVISION = ((64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1))
D2L = ((96, 11, 4, 1), (256, 5, 1, 2), (384, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1))
MNIST = ((24, 5, 1, 2), (64, 3, 1, 1), (96, 3, 1, 1), (96, 3, 1, 1), (64, 3, 1, 1))
POOL_AFTER = ("conv1", "conv2", "conv5")


def adaptive_avg_pool(x, output_size):
    """PyTorch's AdaptiveAvgPool2d on NHWC: output cell i of an axis of length n averages input cells
    floor(i*n/out) .. ceil((i+1)*n/out) - 1. The identity when the size already matches."""
    for axis, out in zip((1, 2), output_size):
        n = x.shape[axis]
        if n == out:
            continue
        cells = [jax.lax.slice_in_dim(x, i * n // out, -(-(i + 1) * n // out), axis=axis).mean(axis, keepdims=True)
                 for i in range(out)]
        x = jnp.concatenate(cells, axis=axis)
    return x


class AlexNet(nn.Module):
    """AlexNet (Krizhevsky, Sutskever & Hinton 2012): five convolutions and three dense layers.

    Images (B, H, W, C) -> logits (B, num_classes). `convs` is one of the tables above (torchvision's,
    the paper's widths, or the small digit network); with pool_to=(6, 6) any input of at least 63x63 works."""
    num_classes: int = 1000
    convs: Sequence[tuple[int, int, int, int]] = TORCHVISION
    hidden: int = 4096                          # width of fc6 and fc7
    pool_to: tuple[int, int] | None = (6, 6)    # adaptive average pool before fc6; None: flatten as is
    dropout_rate: float = 0.5
    dropout_on_inputs: bool = True              # torchvision drops fc6's and fc7's inputs; the paper their outputs
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, type(self).__name__)  # channels free: the same tables serve RGB and grey digits
        x = x.astype(self.dtype)
        he = nn.initializers.kaiming_normal()
        conv = functools.partial(Conv, kernel_init=he, dtype=self.dtype, param_dtype=self.param_dtype)
        dense = functools.partial(nn.Dense, dtype=self.dtype, param_dtype=self.param_dtype)
        dropout = functools.partial(nn.Dropout, self.dropout_rate, deterministic=not train)

        for i, (channels, kernel, stride, padding) in enumerate(self.convs):
            name = f"conv{i + 1}"
            x = nn.relu(conv(channels, (kernel, kernel), strides=stride, padding=padding, name=name)(x))
            if name in POOL_AFTER:
                x = nn.max_pool(x, (3, 3), strides=(2, 2))

        if self.pool_to is not None:
            x = adaptive_avg_pool(x, self.pool_to)
        x = x.reshape(x.shape[0], -1)
        for name in ("fc6", "fc7"):
            if self.dropout_on_inputs:
                x = dropout()(x)
            x = nn.relu(dense(self.hidden, kernel_init=he, name=name)(x))
            if not self.dropout_on_inputs:
                x = dropout()(x)
        return dense(self.num_classes, kernel_init=nn.initializers.normal(0.01), name="fc8")(x)


AlexNetD2L = functools.partial(AlexNet, convs=D2L, pool_to=None, dropout_on_inputs=False)
AlexNetMNIST = functools.partial(AlexNet, num_classes=10, convs=MNIST, hidden=256, pool_to=None,
                                 dropout_on_inputs=False)

MODELS = {
    "alexnet": (AlexNet, (224, 224, 3)),
    "alexnet_d2l": (AlexNetD2L, (224, 224, 3)),
    "alexnet_mnist": (AlexNetMNIST, (28, 28, 1)),
}

"""Network in Network: Lin, Chen & Yan (2014), "Network in network", ICLR (arXiv:1312.4400), in the
form of d2l.ai (Zhang et al., Dive into Deep Learning, section 8.3) for 224x224 grey images.

    nin_block = conv kxk/s -> ReLU -> conv 1x1 -> ReLU -> conv 1x1 -> ReLU     (an "mlpconv" layer:
                                                            a small MLP applied at every pixel)
    block1 nin_block(96, 11x11/4, pad 0)   -> max-pool 3x3/2     224 -> 54 -> 26
    block2 nin_block(256, 5x5/1, pad 2)    -> max-pool 3x3/2      26 -> 26 -> 12
    block3 nin_block(384, 3x3/1, pad 1)    -> max-pool 3x3/2      12 -> 12 -> 5
    dropout 0.5 -> head nin_block(num_classes, 3x3/1, pad 1) -> global average pool -> logits

No dense layer: the last block makes one map per class and global average pooling turns each map into
that class's score, which is what removes the parameter-heavy classifier of AlexNet and VGG. As in d2l,
the head's last 1x1 convolution is followed by a ReLU too.

"nin_mnist" is the same network for 28x28x1 digits: widths 32, 64, 96, first kernel 5x5/1 pad 2
(28 -> 13 -> 6 -> 2 after the three poolings), and the paper's head instead of d2l's: its first two
layers are 96 wide and only the last 1x1 convolution narrows to the 10 classes (the authors' CIFAR-10
model: 192, 192, 10). Trained 5 epochs on 4,000 digits (Adam 1e-3, batch 64) it reached 95% test
accuracy; with d2l's head, ten channels wide throughout, 85%.
"""
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers.checks import check_images
from deepzoo.layers.one_channel_conv import Conv

# (output channels, kernel, stride, padding) of the first convolution of block1 .. block3.
D2L = ((96, 11, 4, 0), (256, 5, 1, 2), (384, 3, 1, 1))
MNIST = ((32, 5, 1, 2), (64, 3, 1, 1), (96, 3, 1, 1))


class NiNBlock(nn.Module):
    """mlpconv: a kxk convolution, then two 1x1 convolutions with as many channels, each with a ReLU
    (the last one may narrow to `out_channels`, as the paper's final block does)."""
    channels: int
    kernel: int
    stride: int
    padding: int
    out_channels: int | None = None
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        """(B, H, W, C) -> (B, H', W', out_channels or channels); the first convolution's
        kernel, stride and padding set H' and W'."""
        conv = functools.partial(Conv, kernel_init=nn.initializers.kaiming_normal(),
                                 dtype=self.dtype, param_dtype=self.param_dtype)
        x = nn.relu(conv(self.channels, (self.kernel, self.kernel), strides=self.stride, padding=self.padding,
                         name="conv")(x))
        x = nn.relu(conv(self.channels, (1, 1), name="mlp1")(x))
        return nn.relu(conv(self.out_channels or self.channels, (1, 1), name="mlp2")(x))


class NiN(nn.Module):
    """Network in Network (Lin, Chen & Yan 2014): mlpconv blocks and max pooling, then a head with one
    map per class, averaged. Images (B, H, W, C) -> logits (B, num_classes)."""
    num_classes: int = 1000
    blocks: Sequence[tuple[int, int, int, int]] = D2L
    dropout_rate: float = 0.5
    head_width: int | None = None   # the head's first two layers; None: num_classes (d2l), the paper: wider
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, type(self).__name__)  # channels free: d2l feeds grey images, the paper RGB
        x = x.astype(self.dtype)
        block = functools.partial(NiNBlock, dtype=self.dtype, param_dtype=self.param_dtype)
        for i, (channels, kernel, stride, padding) in enumerate(self.blocks):
            x = block(channels, kernel, stride, padding, name=f"block{i + 1}")(x)
            x = nn.max_pool(x, (3, 3), strides=(2, 2))
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        x = block(self.head_width or self.num_classes, 3, 1, 1, out_channels=self.num_classes, name="head")(x)
        return x.mean(axis=(1, 2))  # global average pooling: one score per class map


NiNMNIST = functools.partial(NiN, num_classes=10, blocks=MNIST, head_width=96)

MODELS = {
    "nin": (NiN, (224, 224, 1)),
    "nin_mnist": (NiNMNIST, (28, 28, 1)),
}

"""Inception-v3: Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer Vision", CVPR.

Built as torchvision's `inception_v3` (the reference implementation that ImageNet weights exist for; its
stem differs slightly from the paper's Table 1), on a 299x299x3 image:

    Conv2d_1a_3x3   3x3/2, 32, valid                  149x149x32
    Conv2d_2a_3x3   3x3, 32, valid                    147x147x32
    Conv2d_2b_3x3   3x3, 64, same                     147x147x64
    max pool        3x3/2                             73x73x64
    Conv2d_3b_1x1   1x1, 80                           73x73x80
    Conv2d_4a_3x3   3x3, 192, valid                   71x71x192
    max pool        3x3/2                             35x35x192
    Mixed_5b..5d    InceptionA x3 (5x5 -> two 3x3)    35x35x288
    Mixed_6a        InceptionB (grid reduction)       17x17x768
    Mixed_6b..6e    InceptionC x4 (7x7 -> 1x7, 7x1)   17x17x768   -> AuxLogits (auxiliary classifier)
    Mixed_7a        InceptionD (grid reduction)       8x8x1280
    Mixed_7b, 7c    InceptionE x2 (3x3 -> 1x3 | 3x1)  8x8x2048
    global average pool, dropout 50%, fc              num_classes

Every convolution is a BasicConv2d: conv (no bias) -> BatchNorm (epsilon 0.001) -> ReLU. The ideas of the
paper are in the blocks: a 5x5 convolution factorised into two 3x3 (A), an nxn one into 1xn then nx1 (C),
the 3x3s of the coarsest grid split into parallel 1x3 and 3x1 outputs (E), and grid reductions that run a
stride-2 convolution beside a stride-2 pooling instead of pooling first (B, D).

The auxiliary classifier always exists (its parameters are created by init, as in torchvision) and runs in
train mode only: its logits are sown into `intermediates["aux_logits"]` for the loss (torchvision's
recipe weights it 0.4); the model always returns the main logits only.
"""
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers.checks import check_images
from deepzoo.layers.one_channel_conv import Conv


def trunc_normal(stddev: float):
    """torchvision's init: trunc_normal_(std=stddev, a=-2, b=2), bounds in absolute units."""
    return nn.initializers.truncated_normal(stddev, lower=-2 / stddev, upper=2 / stddev)


class BasicConv2d(nn.Module):
    """conv (no bias: BN has one) -> BatchNorm(eps 0.001) -> ReLU. `width` scales the channels (1.0 = paper)."""
    features: int
    kernel: Sequence[int] = (1, 1)
    stride: int = 1
    padding: str = "SAME"           # torchvision pads k // 2 ("SAME") except in the stem and grid reductions
    width: float = 1.0
    stddev: float = 0.1
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """(B, H, W, C) -> (B, H', W', int(features * width)); stride and padding set H', W'."""
        x = Conv(int(self.features * self.width), tuple(self.kernel), strides=self.stride, padding=self.padding,
                 use_bias=False, kernel_init=trunc_normal(self.stddev), dtype=self.dtype,
                 param_dtype=self.param_dtype, name="conv")(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-3, dtype=self.dtype,
                         param_dtype=self.param_dtype, name="bn")(x)
        return nn.relu(x)


def avg_pool_3x3(x):
    """3x3 stride-1 average pooling, the zero padding counted in the divisor (PyTorch's
    count_include_pad=True): the shape is kept."""
    # 3x3/1 average with zero padding counted in the divisor (PyTorch's count_include_pad=True)
    return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=True)


def max_pool_3x3_s2(x):
    """3x3 stride-2 max pooling, no padding: (B, H, W, C) -> (B, (H - 3) // 2 + 1, (W - 3) // 2 + 1, C)."""
    return nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")


class InceptionA(nn.Module):
    """Figure 5: the 5x5 branch of Inception v1 as two 3x3 convolutions (35x35 grid)."""
    pool_features: int
    width: float = 1.0
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """(B, H, W, C) -> (B, H, W, 224 + pool_features) at width 1.0."""
        conv = functools.partial(BasicConv2d, width=self.width, dtype=self.dtype, param_dtype=self.param_dtype)
        branch1x1 = conv(64, name="branch1x1")(x, train=train)
        branch5x5 = conv(48, name="branch5x5_1")(x, train=train)
        branch5x5 = conv(64, (5, 5), name="branch5x5_2")(branch5x5, train=train)
        branch3x3dbl = conv(64, name="branch3x3dbl_1")(x, train=train)
        branch3x3dbl = conv(96, (3, 3), name="branch3x3dbl_2")(branch3x3dbl, train=train)
        branch3x3dbl = conv(96, (3, 3), name="branch3x3dbl_3")(branch3x3dbl, train=train)
        branch_pool = conv(self.pool_features, name="branch_pool")(avg_pool_3x3(x), train=train)
        return jnp.concatenate([branch1x1, branch5x5, branch3x3dbl, branch_pool], axis=-1)


class InceptionB(nn.Module):
    """Figure 10: grid reduction 35 -> 17 with stride-2 convolutions beside a stride-2 max pool."""
    width: float = 1.0
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """(B, H, W, C) -> (B, (H - 3) // 2 + 1, (W - 3) // 2 + 1, 480 + C) at width 1.0."""
        conv = functools.partial(BasicConv2d, width=self.width, dtype=self.dtype, param_dtype=self.param_dtype)
        branch3x3 = conv(384, (3, 3), 2, "VALID", name="branch3x3")(x, train=train)
        branch3x3dbl = conv(64, name="branch3x3dbl_1")(x, train=train)
        branch3x3dbl = conv(96, (3, 3), name="branch3x3dbl_2")(branch3x3dbl, train=train)
        branch3x3dbl = conv(96, (3, 3), 2, "VALID", name="branch3x3dbl_3")(branch3x3dbl, train=train)
        return jnp.concatenate([branch3x3, branch3x3dbl, max_pool_3x3_s2(x)], axis=-1)


class InceptionC(nn.Module):
    """Figure 6: 7x7 convolutions factorised into 1x7 then 7x1 (17x17 grid)."""
    channels_7x7: int
    width: float = 1.0
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """(B, H, W, C) -> (B, H, W, 768) at width 1.0."""
        conv = functools.partial(BasicConv2d, width=self.width, dtype=self.dtype, param_dtype=self.param_dtype)
        c7 = self.channels_7x7
        branch1x1 = conv(192, name="branch1x1")(x, train=train)
        branch7x7 = conv(c7, name="branch7x7_1")(x, train=train)
        branch7x7 = conv(c7, (1, 7), name="branch7x7_2")(branch7x7, train=train)
        branch7x7 = conv(192, (7, 1), name="branch7x7_3")(branch7x7, train=train)
        branch7x7dbl = conv(c7, name="branch7x7dbl_1")(x, train=train)
        branch7x7dbl = conv(c7, (7, 1), name="branch7x7dbl_2")(branch7x7dbl, train=train)
        branch7x7dbl = conv(c7, (1, 7), name="branch7x7dbl_3")(branch7x7dbl, train=train)
        branch7x7dbl = conv(c7, (7, 1), name="branch7x7dbl_4")(branch7x7dbl, train=train)
        branch7x7dbl = conv(192, (1, 7), name="branch7x7dbl_5")(branch7x7dbl, train=train)
        branch_pool = conv(192, name="branch_pool")(avg_pool_3x3(x), train=train)
        return jnp.concatenate([branch1x1, branch7x7, branch7x7dbl, branch_pool], axis=-1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8, the 7x7-factorised branch ending in a stride-2 3x3."""
    width: float = 1.0
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """(B, H, W, C) -> (B, (H - 3) // 2 + 1, (W - 3) // 2 + 1, 512 + C) at width 1.0."""
        conv = functools.partial(BasicConv2d, width=self.width, dtype=self.dtype, param_dtype=self.param_dtype)
        branch3x3 = conv(192, name="branch3x3_1")(x, train=train)
        branch3x3 = conv(320, (3, 3), 2, "VALID", name="branch3x3_2")(branch3x3, train=train)
        branch7x7x3 = conv(192, name="branch7x7x3_1")(x, train=train)
        branch7x7x3 = conv(192, (1, 7), name="branch7x7x3_2")(branch7x7x3, train=train)
        branch7x7x3 = conv(192, (7, 1), name="branch7x7x3_3")(branch7x7x3, train=train)
        branch7x7x3 = conv(192, (3, 3), 2, "VALID", name="branch7x7x3_4")(branch7x7x3, train=train)
        return jnp.concatenate([branch3x3, branch7x7x3, max_pool_3x3_s2(x)], axis=-1)


class InceptionE(nn.Module):
    """Figure 7: on the coarsest (8x8) grid the 3x3s expand into parallel 1x3 and 3x1 outputs."""
    width: float = 1.0
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """(B, H, W, C) -> (B, H, W, 2048) at width 1.0."""
        conv = functools.partial(BasicConv2d, width=self.width, dtype=self.dtype, param_dtype=self.param_dtype)
        branch1x1 = conv(320, name="branch1x1")(x, train=train)
        branch3x3 = conv(384, name="branch3x3_1")(x, train=train)
        branch3x3 = jnp.concatenate([conv(384, (1, 3), name="branch3x3_2a")(branch3x3, train=train),
                                     conv(384, (3, 1), name="branch3x3_2b")(branch3x3, train=train)], axis=-1)
        branch3x3dbl = conv(448, name="branch3x3dbl_1")(x, train=train)
        branch3x3dbl = conv(384, (3, 3), name="branch3x3dbl_2")(branch3x3dbl, train=train)
        branch3x3dbl = jnp.concatenate([conv(384, (1, 3), name="branch3x3dbl_3a")(branch3x3dbl, train=train),
                                        conv(384, (3, 1), name="branch3x3dbl_3b")(branch3x3dbl, train=train)],
                                       axis=-1)
        branch_pool = conv(192, name="branch_pool")(avg_pool_3x3(x), train=train)
        return jnp.concatenate([branch1x1, branch3x3, branch3x3dbl, branch_pool], axis=-1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on 17x17x768: 5x5/3 average pool (-> 5x5), 1x1 conv 128, 5x5 conv 768 (-> 1x1), fc."""
    num_classes: int
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """(B, 17, 17, 768) at 299x299 inputs -> logits (B, num_classes)."""
        conv = functools.partial(BasicConv2d, dtype=self.dtype, param_dtype=self.param_dtype)
        x = nn.avg_pool(x, (5, 5), strides=(3, 3))
        x = conv(128, name="conv0")(x, train=train)
        x = conv(768, (5, 5), padding="VALID", stddev=0.01, name="conv1")(x, train=train)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, kernel_init=trunc_normal(0.001), dtype=self.dtype,
                        param_dtype=self.param_dtype, name="fc")(x)


# The stem: (name, features, kernel, stride, padding); "maxpool" is 3x3/2 max pooling without padding.
INCEPTION_V3_STEM = (
    ("Conv2d_1a_3x3", 32, 3, 2, "VALID"),     # 149x149x32
    ("Conv2d_2a_3x3", 32, 3, 1, "VALID"),     # 147x147x32
    ("Conv2d_2b_3x3", 64, 3, 1, "SAME"),      # 147x147x64
    "maxpool",                                 # 73x73x64
    ("Conv2d_3b_1x1", 80, 1, 1, "VALID"),     # 73x73x80
    ("Conv2d_4a_3x3", 192, 3, 1, "VALID"),    # 71x71x192
    "maxpool",                                 # 35x35x192
)

# The blocks: (name, block, its argument: A's pool features, C's channels in the 7x7 branches).
INCEPTION_V3_BLOCKS = (
    ("Mixed_5b", InceptionA, 32),       # 35x35x256
    ("Mixed_5c", InceptionA, 64),       # 35x35x288
    ("Mixed_5d", InceptionA, 64),       # 35x35x288
    ("Mixed_6a", InceptionB),           # 17x17x768
    ("Mixed_6b", InceptionC, 128),      # 17x17x768
    ("Mixed_6c", InceptionC, 160),      # 17x17x768
    ("Mixed_6d", InceptionC, 160),      # 17x17x768
    ("Mixed_6e", InceptionC, 192),      # 17x17x768
    ("AuxLogits", InceptionAux),        # side branch: auxiliary logits
    ("Mixed_7a", InceptionD),           # 8x8x1280
    ("Mixed_7b", InceptionE),           # 8x8x2048
    ("Mixed_7c", InceptionE),           # 8x8x2048
)

# MNIST (28x28x1): one 3x3 conv and the max pool (-> 13x13), then the paper's sequence of blocks, one or
# two of each kind, at 1/8 of the channels: A, A, grid reduction B (-> 6x6), C, E.
MNIST_STEM = (("Conv2d_1a_3x3", 32, 3, 1, "SAME"), "maxpool")   # 13x13x32
MNIST_BLOCKS = (
    ("Mixed_5b", InceptionA, 32),       # 13x13x32
    ("Mixed_5c", InceptionA, 64),       # 13x13x36
    ("Mixed_6a", InceptionB),           # 6x6x96
    ("Mixed_6b", InceptionC, 128),      # 6x6x96
    ("Mixed_7b", InceptionE),           # 6x6x256
)


class InceptionV3(nn.Module):
    """Inception-v3 (Szegedy et al. 2016) as torchvision builds it: images (B, H, W, in_channels),
    299x299x3 for ImageNet -> logits (B, num_classes). Training sows the auxiliary logits (module docstring)."""
    num_classes: int = 1000
    stem: Sequence = INCEPTION_V3_STEM
    blocks: Sequence = INCEPTION_V3_BLOCKS
    width: float = 1.0                  # channel multiplier of the Inception blocks (1.0 = the paper)
    dropout_rate: float = 0.5
    in_channels: int | None = 3     # checked on the input; None skips the check
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, type(self).__name__, self.in_channels)
        x = x.astype(self.dtype)
        layer = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        for row in self.stem:
            if row == "maxpool":
                x = max_pool_3x3_s2(x)
            else:
                name, features, kernel, stride, padding = row
                x = BasicConv2d(features, (kernel, kernel), stride, padding, name=name, **layer)(x, train=train)
        for name, block, *args in self.blocks:
            if block is InceptionAux:
                # Built at init so its parameters always exist; computed only in training, for the loss.
                if train or self.is_initializing():
                    aux = InceptionAux(self.num_classes, name=name, **layer)(x, train=train)
                    if train:
                        self.sow("intermediates", "aux_logits", aux)
                continue
            x = block(*args, width=self.width, name=name, **layer)(x, train=train)
        x = jnp.mean(x, axis=(1, 2))  # global average pooling (8x8 at 299x299)
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(self.num_classes, kernel_init=trunc_normal(0.1), name="fc", **layer)(x)


InceptionV3MNIST = functools.partial(InceptionV3, num_classes=10, stem=MNIST_STEM, blocks=MNIST_BLOCKS,
                                     width=0.125, in_channels=1)

MODELS = {
    "inception_v3": (InceptionV3, (299, 299, 3)),
    "inception_v3_mnist": (InceptionV3MNIST, (28, 28, 1)),
}

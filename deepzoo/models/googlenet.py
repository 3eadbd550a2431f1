"""GoogLeNet (Inception v1): Szegedy et al. 2015, "Going deeper with convolutions", CVPR.

Table 1 of the paper, on a 224x224x3 image:

    conv1          7x7/2, 64                    112x112x64
    max pool       3x3/2 (then LRN)             56x56x64
    conv2_reduce   1x1, 64                      56x56x64
    conv2          3x3, 192 (then LRN)          56x56x192
    max pool       3x3/2                        28x28x192
    inception 3a, 3b                            28x28x480
    max pool       3x3/2                        14x14x480
    inception 4a, 4b, 4c, 4d, 4e                14x14x832   (auxiliary classifiers on 4a and 4d)
    max pool       3x3/2                        7x7x832
    inception 5a, 5b                            7x7x1024
    global average pool, dropout 40%, linear    num_classes

An inception module runs four branches on the same input and concatenates them on channels; the 1x1
"reduce" convolutions shrink the channels before the expensive 3x3 and 5x5 ones:

    x ─┬─ 1x1 ────────────────────────────────┐
       ├─ 1x1 (#3x3 reduce) ─ 3x3 ────────────┤
       ├─ 1x1 (#5x5 reduce) ─ 5x5 ────────────┼─ concat
       └─ 3x3/1 max pool ─ 1x1 (pool proj) ───┘

Every convolution is followed by a ReLU. With `batch_norm=True` each convolution is conv (no bias) ->
BatchNorm -> ReLU (Inception-BN, Ioffe & Szegedy 2015) and the LRN layers are dropped.
With `aux_logits=True` the two auxiliary classifiers of section 5 are built; in train mode their logits
are sown into `intermediates["aux_logits"]` (a pair: after 4a, after 4d) for the loss, which the paper
weights by 0.3; the model itself always returns the main logits only.
"""
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers import norms
from deepzoo.layers.checks import check_images
from deepzoo.layers.one_channel_conv import Conv

# Table 1, the stem: (name, kernel, stride, features); "maxpool" is 3x3/2 max pooling (Caffe's ceil mode,
# which is "SAME" padding here), "lrn" local response normalisation.
GOOGLENET_STEM = (
    ("conv1", 7, 2, 64),
    "maxpool",
    "lrn",
    ("conv2_reduce", 1, 1, 64),
    ("conv2", 3, 1, 192),
    "lrn",
    "maxpool",
)

# Table 1, the inception modules: (name, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
GOOGLENET_BLOCKS = (
    #  name          #1x1 #3x3red #3x3 #5x5red #5x5 poolproj   output
    ("inception3a",   64,   96,   128,   16,    32,   32),   # 28x28x256
    ("inception3b",  128,  128,   192,   32,    96,   64),   # 28x28x480
    "maxpool",
    ("inception4a",  192,   96,   208,   16,    48,   64),   # 14x14x512
    ("inception4b",  160,  112,   224,   24,    64,   64),   # 14x14x512
    ("inception4c",  128,  128,   256,   24,    64,   64),   # 14x14x512
    ("inception4d",  112,  144,   288,   32,    64,   64),   # 14x14x528
    ("inception4e",  256,  160,   320,   32,   128,  128),   # 14x14x832
    "maxpool",
    ("inception5a",  256,  160,   320,   32,   128,  128),   # 7x7x832
    ("inception5b",  384,  192,   384,   48,   128,  128),   # 7x7x1024
)

# MNIST (28x28x1): one 3x3 conv and one max pool as the stem, then the first three modules of Table 1
# at a quarter of their widths, on 14x14 and 7x7 maps.
MNIST_STEM = (("conv1", 3, 1, 32), "maxpool")
MNIST_BLOCKS = (
    ("inception3a", 16, 24, 32, 4,  8,  8),    # 14x14x64
    ("inception3b", 32, 32, 48, 8, 24, 16),    # 14x14x120
    "maxpool",
    ("inception4a", 48, 24, 52, 4, 12, 16),    # 7x7x128
)

# The BVLC reference implementation (Caffe): "xavier" weights (uniform, variance 1/fan_in), biases 0.2.
conv_init = nn.initializers.variance_scaling(1.0, "fan_in", "uniform")
bias_init = nn.initializers.constant(0.2)


# GoogLeNet's reference (BVLC Caffe) normalises with alpha / size and k = 1.
local_response_norm = functools.partial(norms.local_response_norm, k=1.0, average=True)


def max_pool(x, stride: int = 2):
    """3x3 max pooling at `stride`, "SAME" padding (Caffe's ceil mode): (B, H, W, C) ->
    (B, ceil(H / stride), ceil(W / stride), C)."""
    return nn.max_pool(x, (3, 3), strides=(stride, stride), padding="SAME")


class ConvReLU(nn.Module):
    """conv -> ReLU, or conv (no bias: BN has one) -> BatchNorm -> ReLU. Padding keeps the size (Caffe's
    pad = kernel // 2), so only the stride shrinks the map."""
    features: int
    kernel: int
    stride: int = 1
    batch_norm: bool = False
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """(B, H, W, C) -> (B, ceil(H / stride), ceil(W / stride), features)."""
        pad = self.kernel // 2
        x = Conv(self.features, (self.kernel, self.kernel), strides=self.stride, padding=((pad, pad), (pad, pad)),
                 use_bias=not self.batch_norm, kernel_init=conv_init, bias_init=bias_init,
                 dtype=self.dtype, param_dtype=self.param_dtype, name="conv")(x)
        if self.batch_norm:
            x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=self.dtype,
                             param_dtype=self.param_dtype, name="bn")(x)
        return nn.relu(x)


class Inception(nn.Module):
    """The four-branch module; `widths` is a row of Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5,
    pool proj). Output channels: #1x1 + #3x3 + #5x5 + pool proj."""
    widths: Sequence[int]
    batch_norm: bool = False
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """(B, H, W, C) -> (B, H, W, #1x1 + #3x3 + #5x5 + pool proj)."""
        n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj = self.widths
        conv = functools.partial(ConvReLU, batch_norm=self.batch_norm, dtype=self.dtype,
                                 param_dtype=self.param_dtype)
        branch1 = conv(n1x1, 1, name="1x1")(x, train=train)
        branch2 = conv(n3x3_reduce, 1, name="3x3_reduce")(x, train=train)
        branch2 = conv(n3x3, 3, name="3x3")(branch2, train=train)
        branch3 = conv(n5x5_reduce, 1, name="5x5_reduce")(x, train=train)
        branch3 = conv(n5x5, 5, name="5x5")(branch3, train=train)
        branch4 = max_pool(x, stride=1)
        branch4 = conv(pool_proj, 1, name="pool_proj")(branch4, train=train)
        return jnp.concatenate([branch1, branch2, branch3, branch4], axis=-1)


class AuxClassifier(nn.Module):
    """Section 5: 5x5/3 average pool (14x14 -> 4x4), 1x1 conv 128, FC 1024 + ReLU, dropout 70%, linear."""
    num_classes: int
    batch_norm: bool = False
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """A feature map (B, H, W, C), 14x14 after inception 4a or 4d -> logits (B, num_classes)."""
        x = nn.avg_pool(x, (5, 5), strides=(3, 3))
        x = ConvReLU(128, 1, batch_norm=self.batch_norm, dtype=self.dtype, param_dtype=self.param_dtype,
                     name="conv")(x, train=train)
        x = x.reshape(x.shape[0], -1)
        x = nn.Dense(1024, kernel_init=conv_init, bias_init=bias_init, dtype=self.dtype,
                     param_dtype=self.param_dtype, name="fc")(x)
        x = nn.Dropout(0.7, deterministic=not train)(nn.relu(x))
        return nn.Dense(self.num_classes, kernel_init=conv_init, dtype=self.dtype, param_dtype=self.param_dtype,
                        name="classifier")(x)


class GoogLeNet(nn.Module):
    """GoogLeNet / Inception v1 (Szegedy et al. 2015): images (B, H, W, in_channels) -> logits
    (B, num_classes); `stem` and `blocks` are tables in Table 1's notation. With aux_logits, training sows
    the auxiliary classifiers' logits (module docstring)."""
    num_classes: int = 1000
    stem: Sequence = GOOGLENET_STEM
    blocks: Sequence = GOOGLENET_BLOCKS
    batch_norm: bool = False        # Inception-BN: BatchNorm after every conv, no LRN
    aux_logits: bool = False        # the two auxiliary classifiers used in training (section 5)
    aux_after: Sequence[str] = ("inception4a", "inception4d")
    dropout_rate: float = 0.4
    in_channels: int | None = 3     # checked on the input; None skips the check
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, type(self).__name__, self.in_channels)
        x = x.astype(self.dtype)
        layer = dict(batch_norm=self.batch_norm, dtype=self.dtype, param_dtype=self.param_dtype)
        for row in self.stem:
            if row == "maxpool":
                x = max_pool(x)
            elif row == "lrn":
                x = x if self.batch_norm else local_response_norm(x)  # BN replaces it
            else:
                name, kernel, stride, features = row
                x = ConvReLU(features, kernel, stride, name=name, **layer)(x, train=train)
        # The auxiliary heads exist whenever aux_logits is on (init creates their parameters) but run only
        # in training, as in the paper, where their loss is added to the main one.
        run_aux = self.aux_logits and (train or self.is_initializing())
        for row in self.blocks:
            if row == "maxpool":
                x = max_pool(x)
                continue
            name, *widths = row
            x = Inception(widths, name=name, **layer)(x, train=train)
            if run_aux and name in self.aux_after:
                aux = AuxClassifier(self.num_classes, name=f"aux{self.aux_after.index(name) + 1}",
                                    **layer)(x, train=train)
                if train:
                    self.sow("intermediates", "aux_logits", aux)
        x = jnp.mean(x, axis=(1, 2))  # global average pooling (the paper's 7x7 average pool)
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(self.num_classes, kernel_init=conv_init, dtype=self.dtype, param_dtype=self.param_dtype,
                        name="classifier")(x)


GoogLeNetBN = functools.partial(GoogLeNet, batch_norm=True)
# BN makes the small net train quickly from scratch; no auxiliary heads (7x7 maps are too small for them).
GoogLeNetMNIST = functools.partial(GoogLeNet, num_classes=10, stem=MNIST_STEM, blocks=MNIST_BLOCKS,
                                   batch_norm=True, in_channels=1)

MODELS = {
    "googlenet": (GoogLeNet, (224, 224, 3)),
    "googlenet_bn": (GoogLeNetBN, (224, 224, 3)),
    "googlenet_mnist": (GoogLeNetMNIST, (28, 28, 1)),
}

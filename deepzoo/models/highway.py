"""Highway networks: Srivastava, Greff & Schmidhuber, "Highway Networks", ICML Deep Learning Workshop
2015 (arXiv:1505.00387), and "Training Very Deep Networks", NeurIPS 2015 (arXiv:1507.06228).

A highway layer mixes a plain layer H with its own input through a learned transform gate T:

    y = H(x) * T(x) + x * (1 - T(x)),    H(x) = ReLU(W_H x + b_H),    T(x) = sigmoid(W_T x + b_T)

so y = x where the gate is shut (T = 0, "carry") and y = H(x) where it is open. With b_T initialised
negative every gate starts mostly shut: a deep stack starts close to the identity and signals and
gradients cross it, which is what lets 50-100 layer networks train by plain SGD. The input and output
of a highway layer have the same size, so a plain layer changes the width first.

    HighwayMLP (MNIST, Section 3.1):  flatten -> Dense(width) -> ReLU -> [highway dense] x depth -> fc
    HighwayCNN (CIFAR-10, Table 2):    per stage: conv 3x3 (plain, sets the width) -> ReLU
                                        -> [highway conv 3x3, same padding] x n -> max pool 2x2/2
                                        ... last stage: global average pool -> fc

The paper's CIFAR-10 highway nets are FitNets (Romero et al. 2015) with highway layers in place of plain
ones; highway_cnn follows that layout (three stages of 3x3 convs of widths 32/80/128, 19 layers, 2.3M
parameters like the paper's 19-layer net) without claiming its exact per-layer widths.
"""
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers.checks import check_images
from deepzoo.layers.one_channel_conv import Conv

# Section 2.2 of arXiv:1505.00387: "b_T can be initialized with a negative value (e.g. -1, -3 etc.) such
# that the network is initially biased towards carry behavior". We take the deep end, -3, because our
# default MLP is 50 layers deep: at -1 a 50-layer stack at init has mostly overwritten its input.
GATE_BIAS = -3.0


def highway(h, t, x):
    """y = H(x) * T(x) + x * (1 - T(x)), the gated mix of the transform and the carried input."""
    return h * t + x * (1.0 - t)


class HighwayDense(nn.Module):
    """One fully connected highway layer; the width is the input's."""
    gate_bias: float = GATE_BIAS
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        """(..., D) -> (..., D): the width is kept."""
        dense = functools.partial(nn.Dense, x.shape[-1], dtype=self.dtype, param_dtype=self.param_dtype)
        h = nn.relu(dense(name="transform")(x))                                               # H
        t = nn.sigmoid(dense(bias_init=nn.initializers.constant(self.gate_bias), name="gate")(x))  # T
        return highway(h, t, x)


class HighwayConv(nn.Module):
    """One convolutional highway layer: H and T are 3x3 same-padded convs keeping the channel count."""
    kernel_size: int = 3
    gate_bias: float = GATE_BIAS
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        """(B, H, W, C) -> (B, H, W, C)."""
        k = (self.kernel_size, self.kernel_size)
        conv = functools.partial(Conv, x.shape[-1], k, padding="SAME", dtype=self.dtype,
                                 param_dtype=self.param_dtype)
        h = nn.relu(conv(name="transform")(x))
        t = nn.sigmoid(conv(bias_init=nn.initializers.constant(self.gate_bias), name="gate")(x))
        return highway(h, t, x)


class HighwayMLP(nn.Module):
    """Highway MLP (Srivastava, Greff & Schmidhuber 2015, Section 3.1): a plain Dense(width) then
    `depth` highway layers. Images (B, H, W, C), flattened -> logits (B, num_classes)."""
    depth: int = 49        # highway layers after the plain projection: 50 hidden layers in all
    width: int = 50        # the paper's thin MNIST nets: 50 units per highway layer (71 for plain ones)
    gate_bias: float = GATE_BIAS
    num_classes: int = 1000
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, type(self).__name__)
        x = x.reshape(x.shape[0], -1).astype(self.dtype)
        dense = functools.partial(nn.Dense, dtype=self.dtype, param_dtype=self.param_dtype)
        x = nn.relu(dense(self.width, name="projection")(x))  # plain layer: highway layers keep the width
        for i in range(self.depth):
            x = HighwayDense(self.gate_bias, dtype=self.dtype, param_dtype=self.param_dtype,
                             name=f"highway{i + 1}")(x)
        return dense(self.num_classes, name="head")(x)


class HighwayCNN(nn.Module):
    """Highway CNN (Srivastava, Greff & Schmidhuber 2015, the CIFAR-10 nets): per stage a plain 3x3
    conv then highway convs, 2x2 max pooling between stages. Images (B, H, W, C) -> logits (B, num_classes)."""
    widths: Sequence[int] = (32, 80, 128)   # channels per stage
    stage_sizes: Sequence[int] = (5, 5, 5)  # highway conv layers per stage, after one plain conv
    gate_bias: float = GATE_BIAS
    num_classes: int = 1000
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, type(self).__name__)
        x = x.astype(self.dtype)
        for i, (width, n) in enumerate(zip(self.widths, self.stage_sizes)):
            if i > 0:
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
            x = nn.relu(Conv(width, (3, 3), padding="SAME", dtype=self.dtype, param_dtype=self.param_dtype,
                             name=f"stage{i + 1}_conv")(x))
            for j in range(n):
                x = HighwayConv(gate_bias=self.gate_bias, dtype=self.dtype, param_dtype=self.param_dtype,
                                name=f"stage{i + 1}_highway{j + 1}")(x)
        x = jnp.mean(x, axis=(1, 2))  # global average pooling
        return nn.Dense(self.num_classes, dtype=self.dtype, param_dtype=self.param_dtype, name="head")(x)


HighwayMLP50 = functools.partial(HighwayMLP, num_classes=10)
HighwayCNN19 = functools.partial(HighwayCNN, num_classes=10)  # 18 conv layers + fc, CIFAR-10
# MNIST: three stages of 8/16/32 channels on 28/14/7 maps, two highway convs each; about 6M MACs.
HighwayMNIST = functools.partial(HighwayCNN, widths=(8, 16, 32), stage_sizes=(2, 2, 2), num_classes=10)


MODELS = {
    "highway_mlp": (HighwayMLP50, (28, 28, 1)),
    "highway_cnn": (HighwayCNN19, (32, 32, 3)),
    "highway_mnist": (HighwayMNIST, (28, 28, 1)),
}

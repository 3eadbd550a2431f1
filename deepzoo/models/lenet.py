"""LeNet-5: LeCun, Bottou, Bengio & Haffner (1998), "Gradient-based learning applied to document
recognition", Proc. IEEE 86(11), in the form of d2l.ai (Zhang et al., Dive into Deep Learning, section 7.6).

    input 28x28x1 -> C1 conv 6@5x5 pad 2 -> sigmoid -> S2 avg-pool 2x2/2     28x28x6 -> 14x14x6
                  -> C3 conv 16@5x5     -> sigmoid -> S4 avg-pool 2x2/2     10x10x16 -> 5x5x16
                  -> flatten 400 -> C5 dense 120 -> sigmoid -> F6 dense 84 -> sigmoid -> output dense 10

61,706 parameters and 416,520 multiply-accumulates per digit. The paper's input is 32x32; padding C1 by 2
gives the same 28x28 feature maps from a 28x28 MNIST digit, so this network takes exactly 28x28x1.
The paper's C3 connects each map to a subset of S2's maps and its output is a Gaussian (RBF) layer; like
d2l we use full connections and a dense output. C5 is a 5x5 convolution over a 5x5 input in the
paper, i.e. a dense layer on the flattened maps.

`LeNetMNIST` ("lenet_mnist") is the same network modernised: ReLU instead of sigmoid and max- instead of
average pooling. Trained 5 epochs on 4,000 digits (Adam 1e-3, batch 64) it reached 94% test accuracy,
the sigmoid original 82% (its loss sits near log 10 for the first two epochs).
"""
import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers.checks import check_images
from deepzoo.layers.one_channel_conv import Conv

INPUT_SHAPE = (28, 28, 1)


class LeNet(nn.Module):
    """LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998): digits (B, 28, 28, 1) -> logits (B, num_classes).
    `activation` and `pooling` choose the paper's sigmoid and average pooling or ReLU and max pooling."""
    num_classes: int = 1000      # the zoo's uniform default; the registered variants use the paper's 10
    activation: str = "sigmoid"  # "relu" for the modernised variant
    pooling: str = "avg"         # the paper's subsampling averages; "max" for the modernised variant
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        name = type(self).__name__
        check_images(x, name, channels=1)
        if x.shape[1:3] != INPUT_SHAPE[:2]:
            # Any other size would silently change the flattened width and fail later in C5 (or train a
            # different network); say what to do instead.
            raise ValueError(f"{name} takes 28x28x1 MNIST-sized digits (C1 is padded by 2, which plays the "
                             f"role of the paper's 32x32 input); got images of {x.shape[1]}x{x.shape[2]}. "
                             f"Crop or resize to 28x28 (a 32x32 input: crop 2 pixels from each side).")
        x = x.astype(self.dtype)
        act = {"sigmoid": nn.sigmoid, "relu": nn.relu}[self.activation]
        pool = {"avg": nn.avg_pool, "max": nn.max_pool}[self.pooling]
        conv = functools.partial(Conv, dtype=self.dtype, param_dtype=self.param_dtype)
        dense = functools.partial(nn.Dense, dtype=self.dtype, param_dtype=self.param_dtype)

        x = act(conv(6, (5, 5), padding=2, name="c1")(x))       # 28x28x6
        x = pool(x, (2, 2), strides=(2, 2))                      # S2: 14x14x6
        x = act(conv(16, (5, 5), padding="VALID", name="c3")(x))  # 10x10x16
        x = pool(x, (2, 2), strides=(2, 2))                      # S4: 5x5x16
        x = x.reshape(x.shape[0], -1)                            # 400
        x = act(dense(120, name="c5")(x))
        x = act(dense(84, name="f6")(x))
        return dense(self.num_classes, name="output")(x)


LeNet5 = functools.partial(LeNet, num_classes=10)
LeNetMNIST = functools.partial(LeNet, num_classes=10, activation="relu", pooling="max")

MODELS = {
    "lenet5": (LeNet5, INPUT_SHAPE),
    "lenet_mnist": (LeNetMNIST, INPUT_SHAPE),
}

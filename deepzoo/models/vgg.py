"""VGG: Simonyan & Zisserman (2015), "Very deep convolutional networks for large-scale image recognition",
ICLR (arXiv:1409.1556), Table 1: ConvNet configurations A, A-LRN, B, C, D, E.

    [conv3-m -> ReLU] x n -> max-pool 2x2/2          five such blocks, m = 64, 128, 256, 512, 512
    adaptive average pool to 7x7 -> fc6 4096 -> ReLU -> dropout -> fc7 4096 -> ReLU -> dropout -> fc8

"conv3-256" is a 3x3 convolution with 256 output channels (stride 1, padding 1, so only the poolings
shrink the image); configuration C's "conv1-256" a 1x1 convolution. A-LRN adds local response
normalisation after its first convolution. The classifier is torchvision's: the adaptive pool is the
identity at 224x224 (7x7x512 features) and lets any input size of at least 32 through. torchvision's
vgg11/13/16/19 are A, B, D, E; the *_bn variants put a BatchNorm between each convolution and its ReLU.
Layers are named as in the authors' Caffe release: conv<block>_<i>, fc6, fc7, fc8.

"vgg_mnist" keeps the recipe (stacked 3x3 convolutions, 2x2 max-pooling, two hidden dense layers) at a
digit's scale: three blocks of 32, 64, 64+64 channels (28 -> 14 -> 7 -> 3) and fc 256.

Initialisation as torchvision: He normal (fan-out) convolutions, N(0, 0.01) dense layers, zero biases.
"""
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers.checks import check_images
from deepzoo.layers.norms import local_response_norm
from deepzoo.layers.one_channel_conv import Conv
from deepzoo.models.alexnet import adaptive_avg_pool

# Table 1 of the paper, one column per configuration, read top to bottom.
CONFIGS = {
    "A": ("conv3-64", "maxpool",
          "conv3-128", "maxpool",
          "conv3-256", "conv3-256", "maxpool",
          "conv3-512", "conv3-512", "maxpool",
          "conv3-512", "conv3-512", "maxpool"),
    "A-LRN": ("conv3-64", "LRN", "maxpool",
              "conv3-128", "maxpool",
              "conv3-256", "conv3-256", "maxpool",
              "conv3-512", "conv3-512", "maxpool",
              "conv3-512", "conv3-512", "maxpool"),
    "B": ("conv3-64", "conv3-64", "maxpool",
          "conv3-128", "conv3-128", "maxpool",
          "conv3-256", "conv3-256", "maxpool",
          "conv3-512", "conv3-512", "maxpool",
          "conv3-512", "conv3-512", "maxpool"),
    "C": ("conv3-64", "conv3-64", "maxpool",
          "conv3-128", "conv3-128", "maxpool",
          "conv3-256", "conv3-256", "conv1-256", "maxpool",
          "conv3-512", "conv3-512", "conv1-512", "maxpool",
          "conv3-512", "conv3-512", "conv1-512", "maxpool"),
    "D": ("conv3-64", "conv3-64", "maxpool",
          "conv3-128", "conv3-128", "maxpool",
          "conv3-256", "conv3-256", "conv3-256", "maxpool",
          "conv3-512", "conv3-512", "conv3-512", "maxpool",
          "conv3-512", "conv3-512", "conv3-512", "maxpool"),
    "E": ("conv3-64", "conv3-64", "maxpool",
          "conv3-128", "conv3-128", "maxpool",
          "conv3-256", "conv3-256", "conv3-256", "conv3-256", "maxpool",
          "conv3-512", "conv3-512", "conv3-512", "conv3-512", "maxpool",
          "conv3-512", "conv3-512", "conv3-512", "conv3-512", "maxpool"),
    "mnist": ("conv3-32", "maxpool",
              "conv3-64", "maxpool",
              "conv3-64", "conv3-64", "maxpool"),
}


class VGG(nn.Module):
    """VGG (Simonyan & Zisserman 2015): images (B, H, W, C) -> logits (B, num_classes). `config` is a
    column of Table 1 (CONFIGS); batch_norm gives torchvision's *_bn variants."""
    num_classes: int = 1000
    config: Sequence[str] = CONFIGS["D"]
    batch_norm: bool = False                    # torchvision's *_bn: conv -> BatchNorm -> ReLU
    hidden: int = 4096                          # width of fc6 and fc7
    pool_to: tuple[int, int] | None = (7, 7)    # adaptive average pool before fc6; None: flatten as is
    dropout_rate: float = 0.5
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, type(self).__name__)  # channels free: the same tables serve RGB and grey digits
        x = x.astype(self.dtype)
        conv = functools.partial(Conv, kernel_init=nn.initializers.variance_scaling(2.0, "fan_out", "normal"),
                                 dtype=self.dtype, param_dtype=self.param_dtype)
        dense = functools.partial(nn.Dense, kernel_init=nn.initializers.normal(0.01),
                                  dtype=self.dtype, param_dtype=self.param_dtype)

        block, i = 1, 1
        for layer in self.config:
            if layer == "maxpool":
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
                block, i = block + 1, 1
            elif layer == "LRN":
                x = local_response_norm(x)
            else:  # "conv<kernel>-<channels>"
                kernel, channels = map(int, layer.removeprefix("conv").split("-"))
                name = f"conv{block}_{i}"
                x = conv(channels, (kernel, kernel), padding=kernel // 2, name=name)(x)
                if self.batch_norm:
                    x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=self.dtype,
                                     param_dtype=self.param_dtype, name=f"{name}_bn")(x)
                x = nn.relu(x)
                i += 1

        if self.pool_to is not None:
            x = adaptive_avg_pool(x, self.pool_to)
        x = x.reshape(x.shape[0], -1)
        for name in ("fc6", "fc7"):
            x = nn.relu(dense(self.hidden, name=name)(x))
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return dense(self.num_classes, name="fc8")(x)


VGG_A = functools.partial(VGG, config=CONFIGS["A"])
VGG_A_LRN = functools.partial(VGG, config=CONFIGS["A-LRN"])
VGG_B = functools.partial(VGG, config=CONFIGS["B"])
VGG_C = functools.partial(VGG, config=CONFIGS["C"])
VGG_D = functools.partial(VGG, config=CONFIGS["D"])
VGG_E = functools.partial(VGG, config=CONFIGS["E"])
VGGMNIST = functools.partial(VGG, num_classes=10, config=CONFIGS["mnist"], hidden=256, pool_to=None)

# torchvision's names
VGG11, VGG13, VGG16, VGG19 = VGG_A, VGG_B, VGG_D, VGG_E
VGG11_BN = functools.partial(VGG11, batch_norm=True)
VGG13_BN = functools.partial(VGG13, batch_norm=True)
VGG16_BN = functools.partial(VGG16, batch_norm=True)
VGG19_BN = functools.partial(VGG19, batch_norm=True)

_IMAGENET = (224, 224, 3)
MODELS = {
    "vgg_a": (VGG_A, _IMAGENET),
    "vgg_a_lrn": (VGG_A_LRN, _IMAGENET),
    "vgg_b": (VGG_B, _IMAGENET),
    "vgg_c": (VGG_C, _IMAGENET),
    "vgg_d": (VGG_D, _IMAGENET),
    "vgg_e": (VGG_E, _IMAGENET),
    "vgg11": (VGG11, _IMAGENET),
    "vgg13": (VGG13, _IMAGENET),
    "vgg16": (VGG16, _IMAGENET),
    "vgg19": (VGG19, _IMAGENET),
    "vgg11_bn": (VGG11_BN, _IMAGENET),
    "vgg13_bn": (VGG13_BN, _IMAGENET),
    "vgg16_bn": (VGG16_BN, _IMAGENET),
    "vgg19_bn": (VGG19_BN, _IMAGENET),
    "vgg_mnist": (VGGMNIST, (28, 28, 1)),
}

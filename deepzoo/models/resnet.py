"""ResNet: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016.

Version 1.5 as in torchvision: a downsampling bottleneck strides on its 3x3 conv, not on the first 1x1
(same parameters as the paper's v1; about +0.5% top-1, and 4.09 G MACs for ResNet-50 against the
paper's 3.8 G). Table 1 of the paper:

    x (224x224x3)
    conv1   7x7/2, 64  -> BN -> ReLU -> maxpool 3x3/2            112x112 -> 56x56
    stage1  [block] x n1, width  64 (stride 1)                  56x56
    stage2  [block] x n2, width 128 (first block stride 2)      28x28
    stage3  [block] x n3, width 256 (first block stride 2)      14x14
    stage4  [block] x n4, width 512 (first block stride 2)      7x7
    global average pool -> fc (num_classes)

    BasicBlock (18, 34):  3x3 -> BN -> ReLU -> 3x3 -> BN,            + shortcut -> ReLU   (out = width)
    Bottleneck (50+):     1x1 -> BN -> ReLU -> 3x3 -> BN -> ReLU -> 1x1 (x4) -> BN, + shortcut -> ReLU
    shortcut: identity, or 1x1 conv (stride s) + BN where the shape changes (the paper's option B).

resnet_mnist is the paper's CIFAR-10 network (Section 4.2: 3x3 stem, no max pooling, three stages of
widths 16/32/64 on 32/16/8 maps, 6n+2 layers), here at half width with n=2 (ResNet-14) on 28x28 digits,
and projection shortcuts (option B) instead of zero padding so that it reuses the ImageNet blocks.
"""
import functools
from typing import Any, Callable, Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers.checks import check_images
from deepzoo.layers.one_channel_conv import Conv

# He et al. 2015 ("Delving deep into rectifiers") normal init, fan-out mode as in the reference code.
he_normal_fan_out = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def _conv(features, kernel, strides, name, dtype, param_dtype):
    pad = kernel // 2  # explicit symmetric padding, as the reference: SAME would pad (2, 3) at stride 2
    return Conv(features, (kernel, kernel), (strides, strides), padding=((pad, pad), (pad, pad)),
                use_bias=False,  # the following BatchNorm has the bias
                kernel_init=he_normal_fan_out, dtype=dtype, param_dtype=param_dtype, name=name)


def _bn(train, name, dtype, param_dtype, zero_scale=False):
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=dtype,
                        param_dtype=param_dtype, name=name,
                        scale_init=nn.initializers.zeros if zero_scale else nn.initializers.ones)


def _shortcut(x, out, strides, conv, bn):
    """Identity where shapes agree, else a strided 1x1 projection + BN (option B of the paper)."""
    if x.shape[-1] == out and strides == 1:
        return x
    return bn("downsample_bn")(conv(out, 1, strides, "downsample_conv")(x))


class BasicBlock(nn.Module):
    """Two 3x3 convs; the first strides. Output has `filters` channels."""
    filters: int
    strides: int = 1
    zero_init_residual: bool = False   # last BN scale 0: the block starts as the identity (Goyal et al. 2017)
    squeeze_excite: Optional[Callable[..., nn.Module]] = None  # SE-Net: rescales the branch before the add
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """(B, H, W, C) -> (B, ceil(H / strides), ceil(W / strides), filters)."""
        conv = functools.partial(_conv, dtype=self.dtype, param_dtype=self.param_dtype)
        bn = functools.partial(_bn, train, dtype=self.dtype, param_dtype=self.param_dtype)
        y = nn.relu(bn("bn1")(conv(self.filters, 3, self.strides, "conv1")(x)))
        y = bn("bn2", zero_scale=self.zero_init_residual)(conv(self.filters, 3, 1, "conv2")(y))
        if self.squeeze_excite is not None:
            y = self.squeeze_excite(dtype=self.dtype, param_dtype=self.param_dtype, name="se")(y)
        return nn.relu(y + _shortcut(x, self.filters, self.strides, conv, bn))


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (strided, v1.5) -> 1x1 expand to `filters * expansion` channels."""
    filters: int
    strides: int = 1
    expansion: int = 4
    zero_init_residual: bool = False
    squeeze_excite: Optional[Callable[..., nn.Module]] = None
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """(B, H, W, C) -> (B, ceil(H / strides), ceil(W / strides), filters * expansion)."""
        conv = functools.partial(_conv, dtype=self.dtype, param_dtype=self.param_dtype)
        bn = functools.partial(_bn, train, dtype=self.dtype, param_dtype=self.param_dtype)
        out = self.filters * self.expansion
        y = nn.relu(bn("bn1")(conv(self.filters, 1, 1, "conv1")(x)))
        y = nn.relu(bn("bn2")(conv(self.filters, 3, self.strides, "conv2")(y)))
        y = bn("bn3", zero_scale=self.zero_init_residual)(conv(out, 1, 1, "conv3")(y))
        if self.squeeze_excite is not None:
            y = self.squeeze_excite(dtype=self.dtype, param_dtype=self.param_dtype, name="se")(y)
        return nn.relu(y + _shortcut(x, out, self.strides, conv, bn))


class ResNet(nn.Module):
    """ResNet (He, Zhang, Ren & Sun 2016), v1.5: images (B, H, W, C) -> logits (B, num_classes).
    `block` and `stage_sizes` set the depth (ResNet18 .. ResNet152 below); stem "cifar" is the paper's
    CIFAR-10 stem."""
    stage_sizes: Sequence[int]                 # blocks per stage, e.g. (3, 4, 6, 3) for ResNet-50
    block: Callable[..., nn.Module] = Bottleneck
    widths: Sequence[int] = (64, 128, 256, 512)  # block `filters` per stage (x expansion at the output)
    stem: str = "imagenet"                     # "imagenet": 7x7/2 + maxpool; "cifar": 3x3/1, no pooling
    stem_width: int = 64
    zero_init_residual: bool = False
    num_classes: int = 1000
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, type(self).__name__)  # any channel count: ImageNet RGB or MNIST grey
        x = x.astype(self.dtype)
        if self.stem == "imagenet":
            x = _conv(self.stem_width, 7, 2, "conv1", self.dtype, self.param_dtype)(x)
            x = nn.relu(_bn(train, "bn1", self.dtype, self.param_dtype)(x))
            x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
        elif self.stem == "cifar":
            x = _conv(self.stem_width, 3, 1, "conv1", self.dtype, self.param_dtype)(x)
            x = nn.relu(_bn(train, "bn1", self.dtype, self.param_dtype)(x))
        else:
            raise ValueError(f"ResNet: unknown stem {self.stem!r}; use 'imagenet' or 'cifar'.")
        for i, (n, width) in enumerate(zip(self.stage_sizes, self.widths)):
            for j in range(n):
                strides = 2 if i > 0 and j == 0 else 1  # the first stage follows the stem's downsampling
                x = self.block(filters=width, strides=strides, zero_init_residual=self.zero_init_residual,
                               dtype=self.dtype, param_dtype=self.param_dtype,
                               name=f"stage{i + 1}_block{j + 1}")(x, train=train)
        x = jnp.mean(x, axis=(1, 2))  # global average pooling
        return nn.Dense(self.num_classes, dtype=self.dtype, param_dtype=self.param_dtype, name="fc")(x)


ResNet18 = functools.partial(ResNet, stage_sizes=(2, 2, 2, 2), block=BasicBlock)
ResNet34 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3), block=BasicBlock)
ResNet50 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3), block=Bottleneck)
ResNet101 = functools.partial(ResNet, stage_sizes=(3, 4, 23, 3), block=Bottleneck)
ResNet152 = functools.partial(ResNet, stage_sizes=(3, 8, 36, 3), block=Bottleneck)
# CIFAR-style ResNet-14 at half width (8/16/32 instead of 16/32/64) for 28x28 digits: ~5M MACs.
ResNetMNIST = functools.partial(ResNet, stage_sizes=(2, 2, 2), block=BasicBlock, widths=(8, 16, 32),
                                stem="cifar", stem_width=8, num_classes=10)


MODELS = {
    "resnet18": (ResNet18, (224, 224, 3)),
    "resnet34": (ResNet34, (224, 224, 3)),
    "resnet50": (ResNet50, (224, 224, 3)),
    "resnet101": (ResNet101, (224, 224, 3)),
    "resnet152": (ResNet152, (224, 224, 3)),
    "resnet_mnist": (ResNetMNIST, (28, 28, 1)),
}

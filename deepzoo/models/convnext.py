"""ConvNeXt: Liu et al. 2022, "A ConvNet for the 2020s", CVPR 2022 (https://arxiv.org/abs/2201.03545).

A ResNet modernised step by step towards the Swin Transformer's design, staying purely convolutional:

    image (224, 224, 3)
    -> stem: conv 4x4 stride 4 ("patchify", like ViT/Swin) -> LayerNorm              (56x56, C1)
    -> stage 1: ConvNeXt block x d1
    -> [downsample: LayerNorm -> conv 2x2 stride 2 (C_i -> C_i+1)] -> stage i: block x d_i   (i = 2, 3, 4)
    -> global average pool -> LayerNorm -> head Dense(num_classes)

    ConvNeXt block (an inverted bottleneck with a large kernel, like a transformer block):
        x -> depthwise conv 7x7 -> LayerNorm -> Dense 4C -> GELU -> Dense C -> layer scale (init 1e-6)
          -> stochastic depth -> + x

    variant   depths         dims                    params (torchvision)   MACs
    T         (3, 3, 9, 3)   (96, 192, 384, 768)      28,589,128            4.46 G
    S         (3, 3, 27, 3)  (96, 192, 384, 768)      50,223,688            8.68 G
    B         (3, 3, 27, 3)  (128, 256, 512, 1024)    88,591,464           15.36 G
"""
import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers.attention import drop_path, gelu
from deepzoo.layers.checks import check_images

# The official code initialises conv and linear weights with trunc_normal(std=0.02) and biases with zeros.
# That suits ImageNet widths; at MNIST widths Xavier's sqrt(2 / (fan_in + fan_out)) is several times
# larger and learns much faster, so the small variant uses it.
TRUNC_NORMAL = nn.initializers.truncated_normal(0.02)


class ConvNeXtBlock(nn.Module):
    """One ConvNeXt block (Liu et al. 2022): depthwise kxk conv -> LayerNorm -> Dense 4C -> GELU
    -> Dense C -> layer scale -> stochastic depth, + x. (B, H, W, C) -> (B, H, W, C)."""
    kernel_size: int = 7
    layer_scale_init: float = 1e-6   # each block starts near the identity, so deep stacks train stably
    drop_path_rate: float = 0.0
    kernel_init: Callable = TRUNC_NORMAL
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        kw = dict(kernel_init=self.kernel_init, dtype=self.dtype, param_dtype=self.param_dtype)
        dim, k = x.shape[-1], self.kernel_size
        # Spatial mixing: one 7x7 filter per channel (depthwise, like per-channel attention over a window).
        y = nn.Conv(dim, (k, k), padding=k // 2, feature_group_count=dim, name="dwconv", **kw)(x)
        y = nn.LayerNorm(epsilon=1e-6, name="norm", dtype=self.dtype, param_dtype=self.param_dtype)(y)
        # Channel mixing: 1x1 convs written as Dense layers on the channel axis (the inverted bottleneck).
        y = nn.Dense(4 * dim, name="pwconv1", **kw)(y)
        y = gelu(y)
        y = nn.Dense(dim, name="pwconv2", **kw)(y)
        gamma = self.param("layer_scale", nn.initializers.constant(self.layer_scale_init), (dim,),
                           self.param_dtype)
        y = y * gamma.astype(self.dtype)
        return x + drop_path(y, self.drop_path_rate, train)


class ConvNeXt(nn.Module):
    """ConvNeXt (Liu et al. 2022, "A ConvNet for the 2020s"): images (B, H, W, C) -> logits
    (B, num_classes). ConvNeXtT, S and B below are the paper's variants."""
    depths: Sequence[int] = (3, 3, 9, 3)
    dims: Sequence[int] = (96, 192, 384, 768)
    patch_size: int = 4              # the stem's kernel and stride
    kernel_size: int = 7
    layer_scale_init: float = 1e-6
    drop_path_rate: float = 0.0      # stochastic depth of the last block; grows linearly from 0 at the first
    kernel_init: Callable = TRUNC_NORMAL
    num_classes: int = 1000
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, type(self).__name__)  # any channel count: the stem names a mismatch
        x = x.astype(self.dtype)
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        init = dict(kernel_init=self.kernel_init)
        p = self.patch_size

        # Stem: non-overlapping p x p patches, as in ViT and Swin.
        x = nn.Conv(self.dims[0], (p, p), strides=(p, p), padding="VALID", name="stem", **init, **kw)(x)
        x = nn.LayerNorm(epsilon=1e-6, name="stem_norm", **kw)(x)

        total, done = sum(self.depths), 0
        for i, (depth, dim) in enumerate(zip(self.depths, self.dims)):
            if i > 0:  # separate downsampling layer, normalised first to keep training stable
                x = nn.LayerNorm(epsilon=1e-6, name=f"downsample{i + 1}_norm", **kw)(x)
                x = nn.Conv(dim, (2, 2), strides=(2, 2), padding="VALID", name=f"downsample{i + 1}", **init,
                            **kw)(x)
            for j in range(depth):
                rate = self.drop_path_rate * done / max(total - 1, 1)
                x = ConvNeXtBlock(kernel_size=self.kernel_size, layer_scale_init=self.layer_scale_init,
                                  drop_path_rate=rate, name=f"stage{i + 1}_block{j + 1}", **init, **kw)(x, train=train)
                done += 1

        x = x.mean(axis=(1, 2))  # global average pooling
        x = nn.LayerNorm(epsilon=1e-6, name="norm", **kw)(x)
        return nn.Dense(self.num_classes, name="head", **init, **kw)(x)


# Stochastic depth rates are the paper's ImageNet-1K settings (Table 9 of the appendix).
ConvNeXtT = functools.partial(ConvNeXt, depths=(3, 3, 9, 3), dims=(96, 192, 384, 768), drop_path_rate=0.1)
ConvNeXtS = functools.partial(ConvNeXt, depths=(3, 3, 27, 3), dims=(96, 192, 384, 768), drop_path_rate=0.4)
ConvNeXtB = functools.partial(ConvNeXt, depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024), drop_path_rate=0.5)

# MNIST: a 2x2 stem (28 -> 14), two stages at 14x14 and 7x7 with the full block design; about 0.1M
# parameters and 8M MACs. Four blocks need no damping: with layer scale starting at 1 (instead of 1e-6,
# made for 300 epochs of 18-36 blocks) and Xavier init it reached 95% on 4,000 digits in 5 epochs, 80%
# with the ImageNet settings.
ConvNeXtMNIST = functools.partial(ConvNeXt, depths=(2, 2), dims=(32, 64), patch_size=2, layer_scale_init=1.0,
                                  kernel_init=nn.initializers.xavier_uniform(), num_classes=10)

MODELS = {
    "convnext_t": (ConvNeXtT, (224, 224, 3)),
    "convnext_s": (ConvNeXtS, (224, 224, 3)),
    "convnext_b": (ConvNeXtB, (224, 224, 3)),
    "convnext_mnist": (ConvNeXtMNIST, (28, 28, 1)),
}

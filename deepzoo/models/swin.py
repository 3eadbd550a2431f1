"""Swin Transformer: Liu et al. 2021, "Swin Transformer: Hierarchical Vision Transformer using Shifted
Windows", ICCV 2021 (https://arxiv.org/abs/2103.14030).

    image (224, 224, 3)
    -> patch partition 4x4 + linear embedding (a conv 4x4 stride 4, C filters) -> LayerNorm   (56x56, C)
    -> stage 1: Swin block x d1                                                              (56x56, C)
    -> [patch merging: concat 2x2 neighbours (4C) -> LayerNorm -> Dense 2C, no bias] -> stage i
       (28x28 2C, 14x14 4C, 7x7 8C)
    -> LayerNorm -> global average pool -> head Dense(num_classes)

    Swin block = a transformer encoder block (pre-LN) whose attention sees only M x M windows (M = 7):
        blocks 1, 3, ... : W-MSA, regular windows
        blocks 2, 4, ... : SW-MSA, windows shifted by M // 2: the image is rolled by -M/2, cut into
                           windows, and a mask stops tokens that the roll brought together from attending
                           to each other; the result is rolled back.
    Each attention adds a learned relative position bias B (a (2M-1)^2 x heads table, indexed by the
    offset between two tokens of a window): softmax(QK^T / sqrt(d) + B).

    variant   C     depths          heads            params (torchvision)   MACs
    T         96    (2, 2, 6, 2)    (3, 6, 12, 24)   28,288,354             4.5 G
    S         96    (2, 2, 18, 2)   (3, 6, 12, 24)   49,606,258             8.7 G
    B         128   (2, 2, 18, 2)   (4, 8, 16, 32)   87,768,224            15.4 G

The windows are cut by reshapes, so every stage's resolution must be a multiple of its window (as at
224x224: 56, 28, 14, 7). A stage no larger than the window attends over all of it, unshifted, as in
the official code.
"""
import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from deepzoo.layers.attention import EncoderBlock
from deepzoo.layers.checks import check_images

# Official code and torchvision: trunc_normal(0.02) for linear layers and the bias table, zero biases.
# That suits ImageNet widths; at MNIST widths Xavier's sqrt(2 / (fan_in + fan_out)) is several times
# larger and learns much faster, so the small variant uses it for the linear layers.
TRUNC_NORMAL = nn.initializers.truncated_normal(0.02)


def window_partition(x, window: int):
    """(batch, H, W, C) -> (batch, windows, window * window, C), windows in row-major order."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // window, window, w // window, window, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, (h // window) * (w // window), window * window, c)


def window_reverse(windows, window: int, height: int, width: int):
    """The inverse of window_partition: (batch, windows, window * window, C) -> (batch, H, W, C)."""
    b, _, _, c = windows.shape
    x = windows.reshape(b, height // window, width // window, window, window, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, height, width, c)


def relative_position_index(window: int) -> np.ndarray:
    """(M^2, M^2) indices into the (2M-1)^2 bias table: token i's offset to token j, flattened."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij")).reshape(2, -1)
    offsets = coords[:, :, None] - coords[:, None, :] + window - 1   # (2, M^2, M^2), each in [0, 2M-2]
    return offsets[0] * (2 * window - 1) + offsets[1]


def shifted_window_mask(height: int, width: int, window: int, shift: int) -> np.ndarray:
    """(windows, M^2, M^2) boolean, True where two tokens of a window of the rolled image may attend.

    After rolling by -shift, the last window row (and column) holds pixels from both the bottom and the
    top of the image. Label the three bands of rows (and of columns) that the roll creates; two tokens
    may attend only when they carry the same label, i.e. were neighbours in the original image.
    """
    labels = np.zeros((height, width), np.int32)
    bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for i, rows in enumerate(bands):
        for j, cols in enumerate(bands):
            labels[rows, cols] = 3 * i + j
    labels = window_partition(labels[None, :, :, None], window)[0, :, :, 0]   # (windows, M^2)
    return labels[:, :, None] == labels[:, None, :]


class SwinBlock(nn.Module):
    """One Swin Transformer block (Liu et al. 2021): a pre-LN encoder block whose attention stays
    within window_size x window_size windows, shifted by shift_size when nonzero, with a learned relative
    position bias. (B, H, W, C), H and W multiples of window_size -> (B, H, W, C)."""
    num_heads: int
    window_size: int = 7
    shift_size: int = 0              # 0: W-MSA; window_size // 2: SW-MSA
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.0
    kernel_init: Callable = TRUNC_NORMAL
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        _, h, w, c = x.shape
        m, s = self.window_size, self.shift_size
        if h % m or w % m:
            raise ValueError(f"{self.name}: a {h}x{w} feature map cannot be cut into {m}x{m} windows; use "
                             f"an image size whose feature maps are multiples of the window (e.g. 224 for 7).")

        # Relative position bias: one learned scalar per head and per (dy, dx) offset inside a window.
        table = self.param("relative_position_bias_table", TRUNC_NORMAL, ((2 * m - 1) ** 2, self.num_heads),
                           self.param_dtype)
        bias = table[relative_position_index(m)].transpose(2, 0, 1)       # (heads, M^2, M^2)

        mask = None
        if s:  # shift the windows by rolling the image; mask the pairs that the roll made adjacent
            x = jnp.roll(x, (-s, -s), axis=(1, 2))
            mask = shifted_window_mask(h, w, m, s)[:, None]              # (windows, 1 head, M^2, M^2)

        # LayerNorm and the MLP act per token, so the whole pre-LN encoder block can run on windows:
        # tokens (batch, windows, M^2, C), attention within each window, stochastic depth per image.
        x = window_partition(x, m)
        x, _ = EncoderBlock(self.num_heads, int(c * self.mlp_ratio), drop_path_rate=self.drop_path_rate,
                            epsilon=1e-5, kernel_init=self.kernel_init, dtype=self.dtype,
                            param_dtype=self.param_dtype, name="encoder")(x, mask=mask, bias=bias, train=train)
        x = window_reverse(x, m, h, w)
        if s:
            x = jnp.roll(x, (s, s), axis=(1, 2))
        return x


class PatchMerging(nn.Module):
    """Halve the resolution, double the width: concat each 2x2 neighbourhood (4C) -> LN -> Dense 2C."""
    kernel_init: Callable = TRUNC_NORMAL
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        """(B, H, W, C), H and W even -> (B, H / 2, W / 2, 2C)."""
        _, h, w, c = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"{self.name}: cannot merge 2x2 patches of a {h}x{w} feature map (odd size).")
        # torchvision's order of the four neighbours, so that its weights would load unchanged.
        x = jnp.concatenate([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], axis=-1)
        x = nn.LayerNorm(epsilon=1e-5, name="norm", dtype=self.dtype, param_dtype=self.param_dtype)(x)
        return nn.Dense(2 * c, use_bias=False, kernel_init=self.kernel_init, name="reduction", dtype=self.dtype,
                        param_dtype=self.param_dtype)(x)


class Swin(nn.Module):
    """Swin Transformer (Liu et al. 2021): images (B, H, W, C) -> logits (B, num_classes). Each stage's
    feature map must be a multiple of its window (e.g. 224x224 images for the ImageNet variants)."""
    patch_size: int = 4
    embed_dim: int = 96              # C
    depths: Sequence[int] = (2, 2, 6, 2)
    num_heads: Sequence[int] = (3, 6, 12, 24)
    window_size: int = 7             # M
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.0      # stochastic depth of the last block; grows linearly from 0 at the first
    kernel_init: Callable = TRUNC_NORMAL   # of the linear layers
    num_classes: int = 1000
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, type(self).__name__)  # any channel count: the patch embedding names a mismatch
        x = x.astype(self.dtype)
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        p = self.patch_size

        # Patch partition + linear embedding in one conv, then LayerNorm.
        x = nn.Conv(self.embed_dim, (p, p), strides=(p, p), padding="VALID", name="patch_embed", **kw)(x)
        x = nn.LayerNorm(epsilon=1e-5, name="patch_embed_norm", **kw)(x)

        total, done = sum(self.depths), 0
        for i, (depth, heads) in enumerate(zip(self.depths, self.num_heads)):
            if i > 0:
                x = PatchMerging(kernel_init=self.kernel_init, name=f"patch_merging{i + 1}", **kw)(x)
            # A stage no larger than the window attends over all of it; shifting would then only wrap.
            size = min(x.shape[1:3])
            window = min(self.window_size, size)
            shift = 0 if size <= self.window_size else window // 2
            for j in range(depth):
                rate = self.drop_path_rate * done / max(total - 1, 1)
                x = SwinBlock(heads, window_size=window, shift_size=shift if j % 2 else 0,
                              mlp_ratio=self.mlp_ratio, drop_path_rate=rate, kernel_init=self.kernel_init,
                              name=f"stage{i + 1}_block{j + 1}", **kw)(x, train=train)
                done += 1

        x = nn.LayerNorm(epsilon=1e-5, name="norm", **kw)(x)
        x = x.mean(axis=(1, 2))  # global average pooling
        return nn.Dense(self.num_classes, kernel_init=self.kernel_init, name="head", **kw)(x)


# Stochastic depth rates from the paper's ImageNet-1K training (0.2, 0.3, 0.5 for T, S, B).
SwinT = functools.partial(Swin, embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), drop_path_rate=0.2)
SwinS = functools.partial(Swin, embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24), drop_path_rate=0.3)
SwinB = functools.partial(Swin, embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), drop_path_rate=0.5)

# MNIST: 2x2 patches give 14x14 tokens = 2x2 windows of 7x7, so stage 1 really shifts its windows;
# stage 2 (7x7) is a single window. C = 24 (heads of width 12): about 0.08M parameters and 7M MACs.
SwinMNIST = functools.partial(Swin, patch_size=2, embed_dim=24, depths=(2, 2), num_heads=(2, 4),
                              kernel_init=nn.initializers.xavier_uniform(), num_classes=10)

MODELS = {
    "swin_t": (SwinT, (224, 224, 3)),
    "swin_s": (SwinS, (224, 224, 3)),
    "swin_b": (SwinB, (224, 224, 3)),
    "swin_mnist": (SwinMNIST, (28, 28, 1)),
}

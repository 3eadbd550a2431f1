"""Vision Transformer (ViT): Dosovitskiy et al. 2021, "An image is worth 16x16 words: Transformers for
image recognition at scale", ICLR 2021 (https://arxiv.org/abs/2010.11929).

    image (224, 224, 3)
    -> patch embedding: conv P x P, stride P, D filters   (= a linear map of each flattened patch; 14x14 tokens)
    -> prepend a learned [class] token, add learned 1-D position embeddings      (197 tokens of width D)
    -> dropout
    -> EncoderBlock x depth        (pre-LN: x + MSA(LN(x)), x + MLP(LN(x)); MLP D -> mlp_dim -> D, GELU)
    -> LayerNorm
    -> head: Dense(num_classes) on the class token

    Table 1            layers   D      MLP    heads   params (torchvision, 1000 classes, 224x224)
    ViT-S/16 (DeiT)    12       384    1536   6        22,050,664
    ViT-B/16           12       768    3072   12       86,567,656   (17.56 GMACs)
    ViT-B/32           12       768    3072   12       88,224,232
    ViT-L/16           24       1024   4096   16      304,326,632

The position embeddings fix the number of patches, hence the image size, that a set of parameters
serves; applying them to another size raises an error that names the size they were made for.
"""
import functools
import math
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers.attention import EncoderBlock
from deepzoo.layers.checks import check_images

# Initialisers of the paper's own code (google-research/vision_transformer; torchvision does the same):
# Xavier uniform for the dense layers (EncoderBlock's default), normal(0.02) for the position embeddings,
# zeros for the class token and the head, LeCun normal for the patch embedding. (timm's trunc_normal(0.02)
# for the dense layers is close to Xavier at width 768 but 5x too small at MNIST widths: it learns slowly.)
POSEMB_INIT = nn.initializers.normal(0.02)


class ViT(nn.Module):
    """Vision Transformer (Dosovitskiy et al. 2021): images (B, H, W, C), H and W multiples of
    patch_size -> logits (B, num_classes), read from the class token."""
    patch_size: int = 16
    hidden_dim: int = 768           # D, the token width
    depth: int = 12                 # number of encoder blocks
    num_heads: int = 12
    mlp_dim: int = 3072
    dropout_rate: float = 0.0       # 0.1 in the paper when training from scratch on ImageNet
    attention_dropout_rate: float = 0.0
    num_classes: int = 1000
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        check_images(x, type(self).__name__)  # any channel count: the patch embedding names a mismatch
        x = x.astype(self.dtype)
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        batch, height, width, _ = x.shape
        p, d = self.patch_size, self.hidden_dim
        if height % p or width % p:
            raise ValueError(f"{type(self).__name__}: image size {height}x{width} is not a multiple of the "
                             f"patch size {p}; resize or crop the images.")

        # 1. Patches -> tokens: a P x P conv with stride P is a shared linear map of each flattened patch.
        x = nn.Conv(d, (p, p), strides=(p, p), padding="VALID", kernel_init=nn.initializers.lecun_normal(),
                    name="patch_embed", **kw)(x)
        x = x.reshape(batch, -1, d)

        # 2. A learned [class] token in front; its final state is the image representation (as in BERT).
        cls = self.param("cls_token", nn.initializers.zeros, (1, 1, d), self.param_dtype)
        x = jnp.concatenate([jnp.broadcast_to(cls.astype(self.dtype), (batch, 1, d)), x], axis=1)

        # 3. Learned 1-D position embeddings, one per token: they fix the image size.
        tokens = x.shape[1]
        if self.has_variable("params", "pos_embedding"):
            made_for = self.get_variable("params", "pos_embedding").shape[1]
            if made_for != tokens:
                side = math.isqrt(made_for - 1)
                size = f"{side * p}x{side * p} images" if side * side == made_for - 1 else "other images"
                raise ValueError(
                    f"{type(self).__name__}: the position embeddings were made for {made_for - 1} patches of "
                    f"{p}x{p} ({size}); got {height}x{width} images, i.e. {tokens - 1} patches. Resize the "
                    f"images to the size of the parameters, or initialise new ones for this size.")
        pos = self.param("pos_embedding", POSEMB_INIT, (1, tokens, d), self.param_dtype)
        x = x + pos.astype(self.dtype)
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)

        # 4. The transformer encoder.
        for i in range(self.depth):
            x, _ = EncoderBlock(self.num_heads, self.mlp_dim, dropout_rate=self.dropout_rate,
                                attention_dropout_rate=self.attention_dropout_rate, epsilon=1e-6,
                                name=f"encoder_block{i + 1}", **kw)(x, train=train)   # (x, no cache)
        x = nn.LayerNorm(epsilon=1e-6, name="norm", **kw)(x)

        # 5. Classify the class token (zero-initialised head: every class starts equally likely).
        return nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros, name="head", **kw)(x[:, 0])


ViTS16 = functools.partial(ViT, hidden_dim=384, depth=12, num_heads=6, mlp_dim=1536)
ViTB16 = functools.partial(ViT, hidden_dim=768, depth=12, num_heads=12, mlp_dim=3072)
ViTB32 = functools.partial(ViTB16, patch_size=32)
ViTL16 = functools.partial(ViT, hidden_dim=1024, depth=24, num_heads=16, mlp_dim=4096)

# MNIST: 7x7 patches give 4x4 = 16 tokens (16x16 patches would leave one per image); width 64, 4 blocks of
# 4 heads: about 0.14M parameters and 2M MACs. On 4,000 digits, 4x4 patches (49 tokens, 8M MACs) did worse
# (74% vs 87% test accuracy after 5 epochs): fewer position embeddings to learn from little data.
ViTMNIST = functools.partial(ViT, patch_size=7, hidden_dim=64, depth=4, num_heads=4, mlp_dim=128, num_classes=10)

MODELS = {
    "vit_s16": (ViTS16, (224, 224, 3)),
    "vit_b16": (ViTB16, (224, 224, 3)),
    "vit_b32": (ViTB32, (224, 224, 3)),
    "vit_l16": (ViTL16, (224, 224, 3)),
    "vit_mnist": (ViTMNIST, (28, 28, 1)),
}

"""The capsule network (Sabour, Frosst & Hinton 2017, "Dynamic routing between capsules", NeurIPS): capsules are
vectors whose length is the probability that an entity is present and whose direction is its pose; a layer's
capsules send their predictions to the next layer's by routing by agreement.

    image (B, 28, 28, 1) -> Conv 256 9x9 ReLU                                      (B, 20, 20, 256)
      -> PrimaryCaps: Conv 32 x 8 9x9 stride 2, squash                             (B, 6, 6, 32) capsules of 8D
      -> u_hat_{j|i} = W_ij u_i, W_ij (8 -> 16) per pair                           (B, 1152, 10, 16)
      -> routing (3 iterations):  c_i = softmax_j(b_ij);  s_j = sum_i c_ij u_hat_{j|i};  v_j = squash(s_j);
                                  b_ij += u_hat_{j|i} . v_j                         DigitCaps (B, 10, 16)
      -> lengths |v_j|: class probabilities                                          (B, 10)
    decoder: v of the true class (training) or the longest (evaluation), others zeroed -> FC 512 ReLU
             -> FC 1024 ReLU -> FC 784 sigmoid: the reconstruction                  (B, 28, 28, 1)
squash(s) = |s|^2 / (1 + |s|^2) s / |s|. The model returns {"lengths", "capsules", "reconstruction"}; the task
(deepzoo/tasks/capsule.py) adds the margin loss and 0.0005 x the reconstruction's sum of squared errors.
Parameters: 8,215,568 with the decoder, 6,804,224 without (the paper's 8.2M and 6.8M); the routing logits b
start at 0 for every input and are not parameters.
"""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from deepzoo.layers.one_channel_conv import Conv


def squash(s, axis: int = -1, eps: float = 1e-7):
    """|s|^2 / (1 + |s|^2) s / |s|: the same direction, a length in [0, 1)."""
    norm2 = jnp.sum(s ** 2, axis=axis, keepdims=True)
    return norm2 / (1 + norm2) * s / jnp.sqrt(norm2 + eps)


def route(u_hat, iterations: int = 3):
    """Routing by agreement (Procedure 1): predictions u_hat (B, I, J, D) -> (parent capsules v (B, J, D), the last
    coupling coefficients c (B, I, J), each child's summing to 1 over the parents)."""
    b = jnp.zeros(u_hat.shape[:3], u_hat.dtype)
    for r in range(iterations):
        c = jax.nn.softmax(b, axis=-1)
        # The paper's gradient flows through every iteration; the predictions inside the agreement update are the
        # same tensor.
        v = squash(jnp.einsum("bij,bijd->bjd", c, u_hat))
        if r < iterations - 1:
            b = b + jnp.einsum("bijd,bjd->bij", u_hat, v)
    return v, c


class StridedConv(nn.Module):
    """A VALID convolution of stride 2, computed as a stride-1 convolution on 2 x 2 blocks of the input (space to
    depth) with the kernel zero-padded to an even size and cut the same way: the same numbers, but XLA:CPU takes
    the input gradient of the primary capsules' 9 x 9 stride-2 convolution on a 20 x 20 map 10x faster this way
    (about 4 s instead of 40 s for a batch of 128), though 2x slower on MultiMNIST's 28 x 28 map (10 s against 5 s).
    The parameters are nn.Conv's: kernel (k, k, in, out), bias."""
    features: int
    kernel_size: int

    @nn.compact
    def __call__(self, x):
        k, (B, H, W, C) = self.kernel_size, x.shape
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, C, self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        x = jnp.pad(x, ((0, 0), (0, H % 2), (0, W % 2), (0, 0)))                  # even sides; padding unused
        blocks = x.reshape(B, x.shape[1] // 2, 2, x.shape[2] // 2, 2, C).transpose(0, 1, 3, 2, 4, 5)
        blocks = blocks.reshape(*blocks.shape[:3], 4 * C)                         # (B, H/2, W/2, 4C)
        kb = (k + 1) // 2
        kernel = jnp.pad(kernel, ((0, 2 * kb - k), (0, 2 * kb - k), (0, 0), (0, 0)))
        kernel = kernel.reshape(kb, 2, kb, 2, C, -1).transpose(0, 2, 1, 3, 4, 5).reshape(kb, kb, 4 * C, -1)
        y = jax.lax.conv_general_dilated(blocks, kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y[:, :(H - k) // 2 + 1, :(W - k) // 2 + 1] + bias


class Decoder(nn.Module):
    """Masked class capsules (..., classes x 16) -> an image's pixels (..., pixels) in (0, 1)."""
    pixels: int

    @nn.compact
    def __call__(self, masked):
        r = nn.relu(nn.Dense(512, name="fc1")(masked))
        r = nn.relu(nn.Dense(1024, name="fc2")(r))
        return nn.sigmoid(nn.Dense(self.pixels, name="fc3")(r))


class CapsNet(nn.Module):
    """(B, H, W, C) -> {"lengths" (B, classes), "capsules" (B, classes, 16), "reconstruction" (B, H, W, C)}; 28 x 28
    gives the paper's 1,152 primary capsules (36 x 36, its MultiMNIST, 3,200).
    `labels` (B,) picks the capsule the decoder reconstructs; without them the longest one is used. With labels
    (B, K), or `num_objects` K > 1 and no labels (the K longest), each of the K capsules is reconstructed alone:
    "reconstruction" (B, K, H, W, C), the paper's separate reconstructions of overlapping digits."""
    num_classes: int = 10
    routing_iterations: int = 3
    decoder: bool = True
    num_objects: int = 1
    conv_features: int = 256           # the paper's widths; smaller ones for quick tests
    primary_types: int = 32            # capsule types of 8D at each place of the primary layer
    primary_by_blocks: bool = True     # the primary capsules' convolution as StridedConv (faster on 28 x 28 inputs)

    @nn.compact
    def __call__(self, x, labels=None, *, train: bool = False):
        x = x.astype(jnp.float32)
        h = nn.relu(Conv(self.conv_features, (9, 9), padding="VALID", name="conv1")(x))  # (B, 20, 20, 256)
        if self.primary_by_blocks:
            primary = StridedConv(self.primary_types * 8, 9, name="primary_caps")(h)      # (B, 6, 6, 256)
        else:
            primary = Conv(self.primary_types * 8, (9, 9), strides=(2, 2), padding="VALID", name="primary_caps")(h)
        B = x.shape[0]
        u = squash(primary.reshape(B, -1, 8))           # 32 capsules of 8D at each of 6 x 6 places: (B, 1152, 8)
        W = self.param("digit_caps", nn.initializers.normal(0.01), (u.shape[1], self.num_classes, 8, 16))
        with jax.named_scope("digit_caps"):   # so that models.summary counts the routing's MACs in its row
            u_hat = jnp.einsum("bid,ijde->bije", u, W)                                       # (B, 1152, 10, 16)
            v, _ = route(u_hat, self.routing_iterations)                                    # (B, 10, 16)
        lengths = jnp.linalg.norm(v, axis=-1)                                                # (B, 10)
        out = {"lengths": lengths, "capsules": v}
        if self.decoder:
            if labels is None:
                chosen = jnp.argmax(lengths, -1) if self.num_objects == 1 else (
                    jax.lax.top_k(lengths, self.num_objects)[1])                             # (B,) or (B, K)
            else:
                chosen = labels
            one_hot = jax.nn.one_hot(chosen, self.num_classes)                               # (B, [K,] 10)
            masked = (v.reshape(B, *[1] * (chosen.ndim - 1), *v.shape[1:]) * one_hot[..., None])
            masked = masked.reshape(*chosen.shape, -1)                                       # (B, [K,] 160)
            pixels = Decoder(int(np.prod(x.shape[1:])), name="decoder")(masked)            # the input's size
            out["reconstruction"] = pixels.reshape(*chosen.shape, *x.shape[1:])
        return out


class BaselineCNN(nn.Module):
    """The paper's baseline's layers (section 5: three 5 x 5 convolutions of 256, 256 and 128 channels, ReLU, then
    fully connected 328 and 192 with dropout, and the classes), with 2 x 2 max-pooling after the first two
    convolutions so that its cost matches the capsule network's: 4,587,282 parameters and 0.37 GMACs per 28 x 28 image
    (the paper's, unpooled, has 35.4M).
    (B, 28, 28, 1) -> conv 256 (B, 28, 28, 256) -> pool (B, 14, 14, 256) -> conv 256 -> pool (B, 7, 7, 256)
      -> conv 128 (B, 7, 7, 128) -> FC 328 -> dropout -> FC 192 -> dropout -> logits (B, classes)"""
    num_classes: int = 10
    dropout_rate: float = 0.5

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        x = x.astype(jnp.float32)
        for i, features in enumerate((256, 256, 128)):
            x = nn.relu(Conv(features, (5, 5))(x))
            if i < 2:
                x = nn.max_pool(x, (2, 2), (2, 2))
        x = x.reshape(x.shape[0], -1)
        for features in (328, 192):
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(nn.relu(nn.Dense(features)(x)))
        return nn.Dense(self.num_classes)(x)


MODELS = {
    "capsnet": (CapsNet, (28, 28, 1)),     # MNIST, as the paper (3 routing iterations, the reconstruction decoder)
    # MultiMNIST: two overlapping digits on 36 x 36, each reconstructed from its own capsule.
    "capsnet_multimnist": (functools.partial(CapsNet, num_objects=2, primary_by_blocks=False), (36, 36, 1)),
    "capsnet_baseline_cnn": (BaselineCNN, (28, 28, 1)),
}

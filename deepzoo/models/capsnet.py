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
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


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


class CapsNet(nn.Module):
    """(B, H, W, C) -> {"lengths" (B, classes), "capsules" (B, classes, 16), "reconstruction" (B, H, W, C)}; 28 x 28
    gives the paper's 1,152 primary capsules (36 x 36, its MultiMNIST, 3,200).
    `labels` (B,) picks the capsule the decoder reconstructs; without them the longest one is used."""
    num_classes: int = 10
    routing_iterations: int = 3
    decoder: bool = True

    @nn.compact
    def __call__(self, x, labels=None, *, train: bool = False):
        x = x.astype(jnp.float32)
        h = nn.relu(nn.Conv(256, (9, 9), padding="VALID", name="conv1")(x))                # (B, 20, 20, 256)
        primary = nn.Conv(32 * 8, (9, 9), strides=(2, 2), padding="VALID", name="primary_caps")(h)   # (B, 6, 6, 256)
        B = x.shape[0]
        u = squash(primary.reshape(B, -1, 8))           # 32 capsules of 8D at each of 6 x 6 places: (B, 1152, 8)
        W = self.param("digit_caps", nn.initializers.normal(0.01), (u.shape[1], self.num_classes, 8, 16))
        u_hat = jnp.einsum("bid,ijde->bije", u, W)                                           # (B, 1152, 10, 16)
        v, _ = route(u_hat, self.routing_iterations)                                        # (B, 10, 16)
        lengths = jnp.linalg.norm(v, axis=-1)                                                # (B, 10)
        out = {"lengths": lengths, "capsules": v}
        if self.decoder:
            chosen = jnp.argmax(lengths, -1) if labels is None else labels
            masked = (v * jax.nn.one_hot(chosen, self.num_classes)[..., None]).reshape(B, -1)   # (B, 160)
            r = nn.relu(nn.Dense(512, name="fc1")(masked))
            r = nn.relu(nn.Dense(1024, name="fc2")(r))
            pixels = int(np.prod(x.shape[1:]))                                             # the input's size
            out["reconstruction"] = nn.sigmoid(nn.Dense(pixels, name="fc3")(r)).reshape(x.shape)
        return out


MODELS = {
    "capsnet": (CapsNet, (28, 28, 1)),     # MNIST, as the paper (3 routing iterations, the reconstruction decoder)
}

"""The deep convolutional inverse graphics network (Kulkarni, Whitney, Kohli & Tenenbaum 2015, NeurIPS): a
variational autoencoder whose encoder is convolutional and whose decoder is "deconvolutional" (transposed
convolutions, the generative direction of Zeiler, Krishnan, Taylor & Fergus 2010's deconvolutional networks), and
whose code is split into latents each meant for one factor of the scene. What makes the latents mean their factor
is the training (deepzoo/tasks/inverse_graphics.py), not the network; trained as a plain VAE it is the baseline.

    image (B, 32, 32, 1) -> conv 32 4x4 /2 ReLU (B, 16, 16, 32) -> conv 64 4x4 /2 ReLU (B, 8, 8, 64)
      -> conv 64 4x4 /2 ReLU (B, 4, 4, 64) -> FC 256 ReLU -> mean, log variance      (B, latent_dim) each
    z -> FC 256 ReLU -> FC 4x4x64 ReLU (B, 4, 4, 64) -> deconv 64 4x4 x2 ReLU (B, 8, 8, 64)
      -> deconv 32 4x4 x2 ReLU (B, 16, 16, 32) -> deconv 1 4x4 x2: Bernoulli logits  (B, 32, 32, 1)
The paper's network (150 x 150 faces, 5 x 5 kernels with max-pooling and unpooling, 200 latents) is larger; this
one is sized for 32 x 32 shapes (deepzoo/data/shapes.py) as the beta-VAE papers' networks for dSprites.
"""
from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp


class InverseGraphics(nn.Module):
    """Images (B, H, W, C) and noise eps (B, latent_dim) or None -> {"logits" (B, H, W, C), "mean", "log_var"
    (B, latent_dim)}: the VAE interface of deepzoo/models/vae.py, so the VAE's task trains it too."""
    latent_dim: int = 10
    features: Sequence[int] = (32, 64, 64)
    hidden: int = 256
    image_shape: Sequence[int] = (32, 32, 1)

    def setup(self):
        self.convs = [nn.Conv(f, (4, 4), strides=(2, 2), padding="SAME") for f in self.features]
        self.encoder_hidden = nn.Dense(self.hidden)
        self.mean_layer = nn.Dense(self.latent_dim)
        self.log_var_layer = nn.Dense(self.latent_dim)
        self.decoder_hidden = nn.Dense(self.hidden)
        h, w, _ = self.image_shape
        self.start = (h // 2 ** len(self.features), w // 2 ** len(self.features), self.features[-1])
        self.decoder_grid = nn.Dense(self.start[0] * self.start[1] * self.start[2])
        outs = (*reversed(self.features[:-1]), self.image_shape[-1])
        self.deconvs = [nn.ConvTranspose(f, (4, 4), strides=(2, 2), padding="SAME") for f in outs]

    def encode(self, x):
        """-> (mean, log variance) of q(z|x), each (B, latent_dim)."""
        if tuple(x.shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"InverseGraphics expects images of shape (batch, {', '.join(map(str, self.image_shape))}); "
                             f"got {tuple(x.shape)}. Set image_shape to the data's shape.")
        h = x.astype(jnp.float32)
        for conv in self.convs:
            h = nn.relu(conv(h))                                                   # halves the sides each time
        h = nn.relu(self.encoder_hidden(h.reshape(h.shape[0], -1)))
        return self.mean_layer(h), self.log_var_layer(h)

    def decode(self, z):
        """Bernoulli logits (B, H, W, C) of p(x|z)."""
        h = nn.relu(self.decoder_grid(nn.relu(self.decoder_hidden(z))))
        h = h.reshape(z.shape[0], *self.start)
        for i, deconv in enumerate(self.deconvs):
            h = deconv(h)                                                          # doubles the sides each time
            if i < len(self.deconvs) - 1:
                h = nn.relu(h)
        return h

    def __call__(self, x, eps=None, *, train: bool = False):
        """eps None: z is the posterior mean."""
        mean, log_var = self.encode(x)
        z = mean if eps is None else mean + jnp.exp(0.5 * log_var) * eps
        return {"logits": self.decode(z), "mean": mean, "log_var": log_var}


MODELS = {
    "dcign_shapes": (InverseGraphics, (32, 32, 1)),     # the generated shapes (deepzoo/data/shapes.py)
}

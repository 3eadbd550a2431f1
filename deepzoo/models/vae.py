"""Variational autoencoder: Kingma & Welling 2014, "Auto-encoding variational Bayes", ICLR 2014
(https://arxiv.org/abs/1312.6114), Appendix C: MLP encoder and decoder with one tanh hidden layer.

    encoder  q(z|x):  x -> flatten -> Dense(500) -> tanh -> Dense(20) = mean, Dense(20) = log variance
    sample            z = mean + exp(log_var / 2) * eps,  eps ~ N(0, I)   (the reparameterisation trick)
    decoder  p(x|z):  z -> Dense(500) -> tanh -> Dense(784) = Bernoulli logits -> reshape to the image

784-500-20 / 20-500-784 has 815,824 parameters. eps is an input, drawn by the task (tasks/vae.py)
from the step's key, so the model stays a pure function (no eps: z is the mean); the ELBO is the task's.
"""
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from deepzoo.models.mlp import activation


class VAE(nn.Module):
    """Variational autoencoder (Kingma & Welling 2014) with one hidden layer each way: images
    (B, *image_shape) and noise eps (B, latent_dim) or None -> {"logits": Bernoulli logits (B, *image_shape),
    "mean", "log_var": (B, latent_dim)}, float32."""
    hidden: int = 500
    latent_dim: int = 20
    image_shape: Sequence[int] = (28, 28, 1)
    activation: str = "tanh"
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    def setup(self):
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        self.encoder_hidden = nn.Dense(self.hidden, **kw)
        self.mean_layer = nn.Dense(self.latent_dim, **kw)
        self.log_var_layer = nn.Dense(self.latent_dim, **kw)
        self.decoder_hidden = nn.Dense(self.hidden, **kw)
        self.decoder_output = nn.Dense(int(np.prod(self.image_shape)), **kw)

    def encode(self, x):
        """-> (mean, log variance) of q(z|x), each (batch, latent_dim)."""
        if tuple(x.shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"VAE expects images of shape (batch, {', '.join(map(str, self.image_shape))}); got "
                             f"{tuple(x.shape)}. Set image_shape to the data's shape.")
        h = activation(self.activation)(self.encoder_hidden(x.reshape(x.shape[0], -1).astype(self.dtype)))
        return self.mean_layer(h).astype(jnp.float32), self.log_var_layer(h).astype(jnp.float32)

    def decode(self, z):
        """Bernoulli logits of p(x|z), shaped like the images."""
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"VAE decodes codes of {self.latent_dim} dimensions (latent_dim); got shape "
                             f"{tuple(z.shape)}.")
        h = activation(self.activation)(self.decoder_hidden(z.astype(self.dtype)))
        return self.decoder_output(h).reshape(z.shape[0], *self.image_shape).astype(jnp.float32)

    def __call__(self, x, eps=None, *, train: bool = False):
        """eps None: z is the posterior mean (a deterministic reconstruction)."""
        mean, log_var = self.encode(x)
        if eps is None:
            eps = jnp.zeros_like(mean)
        if eps.shape != mean.shape:
            raise ValueError(f"VAE: eps has shape {tuple(eps.shape)}, expected {tuple(mean.shape)} (batch, latent_dim).")
        z = mean + jnp.exp(0.5 * log_var) * eps
        return {"logits": self.decode(z), "mean": mean, "log_var": log_var}


MODELS = {
    "vae_mnist": (VAE, (28, 28, 1)),
}

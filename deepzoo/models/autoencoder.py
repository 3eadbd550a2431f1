"""Autoencoders: an encoder squeezes the input into a code, a decoder rebuilds the input from it.

    MLPAutoencoder:   x -> flatten -> [Dense -> act] x len(hidden) -> Dense(latent) = code
                      code -> [Dense -> act] x reversed(hidden) -> Dense(prod(image_shape)) -> reshape
    ConvAutoencoder:  x (28x28x1) -> Conv 32 3x3/2 -> Conv 64 3x3/2 (7x7) -> Dense(latent) = code
                      code -> Dense(7x7x64) -> ConvTranspose 32 3x3/2 -> ConvTranspose 1 3x3/2 -> 28x28x1

Both return {"reconstruction": logits shaped like the input, "code": (batch, latent)}; the
reconstruction task (tasks/reconstruction.py) reads the logits as Bernoulli means (pixels in [0, 1])
or as the values themselves (MSE). Denoising and sparsity are the task's business, not the model's:
the same network trains plain, denoising (Vincent et al. 2008) or sparse (an L1 or KL penalty on
the code). `encode` and `decode` are there for codes and generation (model.apply(v, x, method="encode")).
"""
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from deepzoo.layers.checks import check_images
from deepzoo.layers.one_channel_conv import Conv
from deepzoo.models.mlp import activation


class MLPAutoencoder(nn.Module):
    """Fully connected autoencoder (the deep autoencoder of Hinton & Salakhutdinov 2006, "Reducing
    the dimensionality of data with neural networks", Science, trained end to end without RBM pre-training).

    x (B, *image_shape) -> {"reconstruction": logits (B, *image_shape), "code": (B, latent_dim)}, float32."""
    hidden: Sequence[int] = (512, 256)
    latent_dim: int = 32
    image_shape: Sequence[int] = (28, 28, 1)
    activation: str = "relu"
    code_activation: str = "identity"     # "sigmoid" for a KL sparsity target on mean activations
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    def setup(self):
        dense = functools.partial(nn.Dense, dtype=self.dtype, param_dtype=self.param_dtype)
        self.encoder_layers = [dense(h, name=f"encoder_{i}") for i, h in enumerate(self.hidden)]
        self.code_layer = dense(self.latent_dim, name="code")
        self.decoder_layers = [dense(h, name=f"decoder_{i}") for i, h in enumerate(reversed(self.hidden))]
        self.output_layer = dense(int(np.prod(self.image_shape)), name="output")

    def encode(self, x):
        """x (B, *image_shape) -> code (B, latent_dim), after `code_activation`."""
        if tuple(x.shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"MLPAutoencoder expects inputs of shape (batch, {', '.join(map(str, self.image_shape))}); "
                             f"got {tuple(x.shape)}. Set image_shape to the data's shape.")
        act = activation(self.activation)
        x = x.reshape(x.shape[0], -1).astype(self.dtype)
        for layer in self.encoder_layers:
            x = act(layer(x))
        return activation(self.code_activation)(self.code_layer(x))

    def decode(self, code):
        """code (B, latent_dim) -> reconstruction logits (B, *image_shape), float32."""
        act = activation(self.activation)
        x = code.astype(self.dtype)
        for layer in self.decoder_layers:
            x = act(layer(x))
        return self.output_layer(x).reshape(x.shape[0], *self.image_shape).astype(jnp.float32)

    def __call__(self, x, *, train: bool = False):
        code = self.encode(x)
        return {"reconstruction": self.decode(code), "code": code.astype(jnp.float32)}


class ConvAutoencoder(nn.Module):
    """Convolutional autoencoder: stride-2 3x3 convolutions down to a dense code, transposed
    convolutions back up (layout in the module docstring).

    x (B, H, W, C) = (B, *image_shape), H and W multiples of 2 ** len(channels) -> {"reconstruction":
    logits (B, H, W, C), "code": (B, latent_dim)}, float32."""
    latent_dim: int = 32
    channels: Sequence[int] = (32, 64)
    image_shape: Sequence[int] = (28, 28, 1)
    activation: str = "relu"
    code_activation: str = "identity"
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    def setup(self):
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        self.convs = [Conv(c, (3, 3), strides=2, padding="SAME", name=f"encoder_conv{i}", **kw)
                      for i, c in enumerate(self.channels)]
        self.code_layer = nn.Dense(self.latent_dim, name="code", **kw)
        h, w, _ = self.image_shape
        self.grid = (h // 2 ** len(self.channels), w // 2 ** len(self.channels), self.channels[-1])
        self.expand = nn.Dense(int(np.prod(self.grid)), name="decoder_dense", **kw)
        out = (*reversed(self.channels[:-1]), self.image_shape[-1])
        self.deconvs = [nn.ConvTranspose(c, (3, 3), strides=(2, 2), padding="SAME", name=f"decoder_deconv{i}", **kw)
                        for i, c in enumerate(out)]

    def encode(self, x):
        """x (B, *image_shape) -> code (B, latent_dim), after `code_activation`."""
        check_images(x, "ConvAutoencoder", self.image_shape[-1])
        act = activation(self.activation)
        x = x.astype(self.dtype)
        for conv in self.convs:
            x = act(conv(x))
        return activation(self.code_activation)(self.code_layer(x.reshape(x.shape[0], -1)))

    def decode(self, code):
        """code (B, latent_dim) -> reconstruction logits (B, *image_shape), float32."""
        act = activation(self.activation)
        x = act(self.expand(code.astype(self.dtype))).reshape(code.shape[0], *self.grid)
        for i, deconv in enumerate(self.deconvs):
            x = deconv(x)
            if i < len(self.deconvs) - 1:
                x = act(x)
        return x.astype(jnp.float32)

    def __call__(self, x, *, train: bool = False):
        code = self.encode(x)
        return {"reconstruction": self.decode(code), "code": code.astype(jnp.float32)}


MODELS = {
    "autoencoder_mnist": (MLPAutoencoder, (28, 28, 1)),
    "conv_autoencoder_mnist": (ConvAutoencoder, (28, 28, 1)),
}

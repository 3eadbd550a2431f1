"""Reconstruction (autoencoders): rebuild the clean input from the code of a possibly corrupted one.

    loss = reconstruction(clean x, decoder output) + sparsity_weight * penalty(code)
    reconstruction: "bernoulli" (cross-entropy of pixels in [0, 1], summed per image) or "mse" (mean)
    denoising (Vincent et al. 2008), training only: Gaussian noise of std noise_std added, and/or a
        fraction mask_fraction of the inputs set to 0 ("masking noise"); evaluation sees clean inputs
    sparsity: "l1" (mean |code|) or "kl" (Ng's sparse autoencoder: sum_j KL(rho || mean activation
        of unit j over the batch), for codes in (0, 1), i.e. code_activation="sigmoid")
The model returns {"reconstruction": ..., "code": ...}.
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model


def first_images(source, n: int = 256):
    """The inputs of a source's first n examples: what the tasks' validate() checks shapes and ranges on."""
    return source.read(np.arange(min(len(source), n)))["input"]


def check_unit_range(images, what: str):
    """Raises ValueError, naming `what` and the fix, unless every value of `images` is in [0, 1]."""
    low, high = float(np.min(images)), float(np.max(images))
    if low < 0.0 or high > 1.0:
        raise ValueError(f"{what} needs pixels in [0, 1] (Bernoulli means); the data holds values in "
                         f"[{low:.3g}, {high:.3g}]. Scale the images to [0, 1], or use reconstruction='mse'.")


def bernoulli_nll(logits, x):
    """-log p(x | logits) per example, summed over pixels (x in [0, 1]: the cross-entropy)."""
    losses = optax.sigmoid_binary_cross_entropy(logits, x)
    return losses.reshape(losses.shape[0], -1).sum(-1)


@dataclasses.dataclass(frozen=True)
class Reconstruction:
    """Autoencoder training: rebuild the clean input, optionally from a corrupted one (denoising,
    Vincent et al. 2008) and with a sparsity penalty on the code (module docstring)."""
    reconstruction: str = "bernoulli"
    noise_std: float = 0.0
    mask_fraction: float = 0.0
    sparsity: str = ""
    sparsity_weight: float = 0.0
    sparsity_target: float = 0.05

    def __post_init__(self):
        if self.reconstruction not in ("bernoulli", "mse"):
            raise ValueError(f"unknown reconstruction={self.reconstruction!r}; known: bernoulli, mse.")
        if self.sparsity not in ("", "l1", "kl"):
            raise ValueError(f"unknown sparsity={self.sparsity!r}; known: '' (none), l1, kl.")

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["input"],)."""
        return (batch["input"],)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the reconstruction is not shaped like the inputs or,
        for "bernoulli", the pixels are outside [0, 1]."""
        x = first_images(source)
        if tuple(output_shape["reconstruction"][1:]) != tuple(x.shape[1:]):
            raise ValueError(f"model {model_name} reconstructs shape {output_shape['reconstruction'][1:]} but the "
                             f"inputs have shape {x.shape[1:]}: set its image_shape to {tuple(x.shape[1:])}.")
        if self.reconstruction == "bernoulli":
            check_unit_range(x, f"reconstruction='bernoulli' ({model_name})")

    def corrupt(self, x, rng):
        """x with Gaussian noise of std noise_std added and a fraction mask_fraction of its
        values set to 0, both drawn from `rng`."""
        k_noise, k_mask = jax.random.split(rng)
        if self.noise_std:
            x = x + self.noise_std * jax.random.normal(k_noise, x.shape, x.dtype)
        if self.mask_fraction:
            x = jnp.where(jax.random.bernoulli(k_mask, self.mask_fraction, x.shape), 0.0, x)
        return x

    def _terms(self, out, x):
        if self.reconstruction == "bernoulli":
            error = bernoulli_nll(out["reconstruction"], x)
        else:
            diff = (out["reconstruction"] - x).reshape(x.shape[0], -1)
            error = jnp.mean(diff ** 2, -1)
        code = out["code"]
        if self.sparsity == "l1":
            penalty = jnp.mean(jnp.abs(code))
        elif self.sparsity == "kl":
            rho, rho_hat = self.sparsity_target, jnp.clip(jnp.mean(code, 0), 1e-6, 1 - 1e-6)
            penalty = jnp.sum(rho * jnp.log(rho / rho_hat) + (1 - rho) * jnp.log((1 - rho) / (1 - rho_hat)))
        else:
            penalty = jnp.zeros(())
        return error, penalty

    def _metrics(self, error, penalty, x, out, weights):
        mse = jnp.mean(((jax.nn.sigmoid(out["reconstruction"]) if self.reconstruction == "bernoulli"
                         else out["reconstruction"]) - x).reshape(x.shape[0], -1) ** 2, -1)
        return {"reconstruction": metrics_lib.pair(error, weights), "pixel_mse": metrics_lib.pair(mse, weights),
                "sparsity_penalty": metrics_lib.pair(jnp.broadcast_to(penalty, error.shape), weights),
                "mean_abs_code": metrics_lib.pair(jnp.mean(jnp.abs(out["code"]), -1), weights)}

    def loss(self, model, params, model_state, batch, rngs):
        """(mean reconstruction error + sparsity_weight * penalty, (new model state, metrics)) of
        one training batch, the input corrupted from rngs["dropout"] when noise_std or mask_fraction is set;
        metrics as in evaluate, and loss."""
        x = batch["input"]
        noisy = self.corrupt(x, jax.random.fold_in(rngs["dropout"], 1)) if self.noise_std or self.mask_fraction else x
        out, new_state = apply_model(model, params, model_state, (noisy,), train=True, rngs=rngs)
        error, penalty = self._terms(out, x)
        loss = jnp.mean(error) + self.sparsity_weight * penalty
        return loss, (new_state, {"loss": metrics_lib.pair(jnp.broadcast_to(loss, error.shape), 1.0),
                                  **self._metrics(error, penalty, x, out, 1.0)})

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"]): reconstruction, pixel_mse,
        sparsity_penalty and mean_abs_code, on clean inputs."""
        x = batch["input"]
        out, _ = apply_model(model, params, model_state, (x,), train=False)
        error, penalty = self._terms(out, x)
        return self._metrics(error, penalty, x, out, batch["mask"])

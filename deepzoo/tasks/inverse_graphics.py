"""The training of the deep convolutional inverse graphics network (Kulkarni et al. 2015, section 3.2): a VAE
trained on mini-batches in which one factor of the scene alone varies, so that each block of latents comes to
mean its factor.

Each example is a group of G images in which factor f varies (deepzoo/data/shapes.py: "input" (B, G, H, W, C),
"factor" (B,)); the latents are split into consecutive blocks, one per factor (`latents_per_factor`). In a group:
    the latents of f        are sampled as in a VAE and decoded as they are;
    every other latent      is clamped: the decoder gets its mean over the group, and the encoder's gradient for
                            it is replaced by its difference from that mean (the paper's "invariance" signal),
                            here as the gradient of 1/2 (z - stop_gradient(mean))^2;
    loss = Bernoulli reconstruction error + beta KL(q(z|x) || N(0, I)) + that invariance term, per image.
With clamp=False it is the plain VAE on the same images (the baseline). Evaluation is the same for both: the
ELBO of each image alone (no clamping), in nats per image, eps drawn from eval_seed.
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.reconstruction import bernoulli_nll, check_unit_range
from deepzoo.tasks.vae import gaussian_kl


@dataclasses.dataclass(frozen=True)
class InverseGraphicsTraining:
    """DC-IGN's clamped VAE training on groups where one factor varies (module docstring)."""
    latents_per_factor: tuple[int, ...] = (6, 1, 1, 1, 1)   # shapes' factors: shape, scale, rotation, x, y
    clamp: bool = True
    beta: float = 1.0
    eval_seed: int = 0

    def inputs(self, batch) -> tuple:
        """The model's positional inputs for shape checks: the groups' first images."""
        return (batch["input"][:, 0],)

    def owners(self) -> np.ndarray:
        """(factors, latent_dim) 0/1: which latents each factor owns."""
        edges = np.cumsum((0, *self.latents_per_factor))
        return np.stack([(np.arange(edges[-1]) >= a) & (np.arange(edges[-1]) < b)
                         for a, b in zip(edges[:-1], edges[1:])]).astype(np.float32)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, on data that is not groups of images with the varying factor, or a code of
        another size than the latents the factors own."""
        example = source.read(np.arange(min(len(source), 8)))
        if "factor" not in example or example["input"].ndim != 5:
            raise ValueError(f"inverse-graphics training needs groups of images in which one factor varies (\"input\" "
                             f"(n, G, H, W, C) and \"factor\" (n,), e.g. dataset 'shapes'); the dataset gives "
                             f"{ {k: v.shape[1:] for k, v in example.items()} }.")
        latent_dim = output_shape["mean"][-1]
        if latent_dim != sum(self.latents_per_factor):
            raise ValueError(f"model {model_name} has {latent_dim} latents but latents_per_factor "
                             f"{self.latents_per_factor} gives the factors {sum(self.latents_per_factor)}: set "
                             f"--config.model.kwargs.latent_dim={sum(self.latents_per_factor)}.")
        if int(example["factor"].max()) >= len(self.latents_per_factor):
            raise ValueError(f"the data varies factor {int(example['factor'].max())} but latents_per_factor names "
                             f"{len(self.latents_per_factor)} factors.")
        check_unit_range(example["input"], f"the inverse-graphics decoder ({model_name})")

    def _encode(self, model, params, x):
        B, G = x.shape[:2]
        mean, log_var = model.apply({"params": params}, x.reshape(B * G, *x.shape[2:]), method="encode")
        return mean.reshape(B, G, -1), log_var.reshape(B, G, -1)

    def _decode_loss(self, model, params, x, z):
        B, G = x.shape[:2]
        logits = model.apply({"params": params}, z.reshape(B * G, -1), method="decode")
        return bernoulli_nll(logits, x.reshape(B * G, *x.shape[2:])).reshape(B, G)

    def loss(self, model, params, model_state, batch, rngs):
        """(mean loss per image, (model state, metrics)): the module docstring's loss on the groups of `batch`."""
        x = batch["input"]
        mean, log_var = self._encode(model, params, x)
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(jax.random.fold_in(rngs["dropout"], 1), mean.shape)
        invariance = jnp.zeros(x.shape[:2])
        if self.clamp:
            free = jnp.asarray(self.owners())[batch["factor"]][:, None]               # (B, 1, latent_dim)
            group_mean = jax.lax.stop_gradient(jnp.mean(z, axis=1, keepdims=True))
            invariance = 0.5 * jnp.sum((1 - free) * (z - group_mean) ** 2, -1)
            z = free * z + (1 - free) * group_mean
        reconstruction = self._decode_loss(model, params, x, z)
        kl = gaussian_kl(mean, log_var)
        per_image = reconstruction + self.beta * kl + invariance
        metrics = {name: metrics_lib.pair(value.reshape(-1), 1.0) for name, value in
                   (("loss", per_image), ("reconstruction", reconstruction), ("kl", kl), ("invariance", invariance))}
        return jnp.mean(per_image), (model_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real groups' images: neg_elbo, reconstruction, kl (no clamping)."""
        x = batch["input"]
        mean, log_var = self._encode(model, params, x)
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(jax.random.key(self.eval_seed), mean.shape)
        reconstruction = self._decode_loss(model, params, x, z)
        kl = gaussian_kl(mean, log_var)
        weights = jnp.broadcast_to(batch["mask"][:, None], kl.shape).reshape(-1)
        return {name: metrics_lib.pair(value.reshape(-1), weights) for name, value in
                (("neg_elbo", reconstruction + kl), ("reconstruction", reconstruction), ("kl", kl))}

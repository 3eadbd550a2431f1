"""The GAN game (Goodfellow et al. 2014) for a model with `generate(z)` and `discriminate(images)`
(deepzoo/models/dcgan.py), played by the train step one player after the other (step.py, `players`):

    discriminator  loss = -log D(x) - log(1 - D(G(z)))  = softplus(-D(x)) + softplus(D(G(z)))   (logits)
    generator      loss = -log D(G(z))                  = softplus(-D(G(z)))     (the non-saturating loss
                   of their section 3: strong gradients while D still rejects every sample)
The images, {"input": (B, H, W, C) in [0, 1]}, are scaled to the generator's tanh range [-1, 1]. The
discriminator sees a batch of real and a batch of generated images separately, so that its BatchNorm
never mixes the two (the DCGAN reference code). z is uniform in [-1, 1] as in DCGAN (noise="normal":
N(0, I)); both players draw the same z from the step's key. Evaluation scores held-out real images
against as many samples from a fixed key: the generator in inference mode (BatchNorm's running
averages), the discriminator on each batch's own statistics, as it was trained (its running averages
mix real and generated batches, and would judge neither).
"""
import dataclasses

import jax
import jax.numpy as jnp

from deepzoo.registry import lookup
from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model
from deepzoo.tasks.reconstruction import check_unit_range, first_images


def to_tanh_range(images):
    """Images in [0, 1] -> [-1, 1], the generator's tanh range."""
    return 2.0 * images - 1.0


def sample_noise(key, batch: int, latent_dim: int, noise: str = "uniform"):
    """The generator's input z (batch, latent_dim)."""
    draw = lookup("noise", noise, {
        "uniform": lambda: jax.random.uniform(key, (batch, latent_dim), minval=-1.0, maxval=1.0),
        "normal": lambda: jax.random.normal(key, (batch, latent_dim))})
    return draw()


@dataclasses.dataclass(frozen=True)
class GAN:
    """The GAN game (Goodfellow et al. 2014) with the non-saturating generator loss, for a model with
    generate(z) and discriminate(images); the train step updates `players` in turn (module docstring)."""
    noise: str = "uniform"
    eval_seed: int = 0
    players = ("discriminator", "generator")   # the order of the updates within a step

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (real images scaled to [-1, 1],)."""
        return (to_tanh_range(batch["input"]),)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the samples are not shaped like the data's images or the
        pixels are outside [0, 1]."""
        x = first_images(source)
        if tuple(output_shape["samples"][1:]) != tuple(x.shape[1:]):
            raise ValueError(f"model {model_name} generates images of shape {output_shape['samples'][1:]} but "
                             f"the data's have shape {x.shape[1:]}: set its image_size and channels to match.")
        check_unit_range(x, f"the GAN ({model_name}), which scales [0, 1] to the generator's [-1, 1],")

    def _generate(self, model, params, model_state, key, batch_size, train, rngs=None):
        z = sample_noise(key, batch_size, model.latent_dim, self.noise)
        return apply_model(model, params, model_state, (z,), train=train, rngs=rngs, method="generate")

    @staticmethod
    def _discriminate(model, params, model_state, images, train, rngs=None):
        logits, model_state = apply_model(model, params, model_state, (images,), train=train, rngs=rngs,
                                          method="discriminate")
        return logits[:, 0], model_state

    def loss(self, model, params, model_state, batch, rngs, player: str = "discriminator"):
        """(mean loss of `player`, (new model state, metrics)) of one training batch: "discriminator"
        (metrics d_loss, d_real, d_fake: mean D on real and on generated images) or "generator" (g_loss). Both
        draw the same z from rngs["dropout"]."""
        real = to_tanh_range(batch["input"])
        key = jax.random.fold_in(rngs["dropout"], 1)
        fake, model_state = self._generate(model, params, model_state, key, real.shape[0], True, rngs)
        if player == "discriminator":
            fake = jax.lax.stop_gradient(fake)
            real_logits, model_state = self._discriminate(model, params, model_state, real, True, rngs)
            fake_logits, model_state = self._discriminate(model, params, model_state, fake, True, rngs)
            per_example = jax.nn.softplus(-real_logits) + jax.nn.softplus(fake_logits)
            metrics = {"d_loss": metrics_lib.pair(per_example, 1.0),
                       "d_real": metrics_lib.pair(jax.nn.sigmoid(real_logits), 1.0),
                       "d_fake": metrics_lib.pair(jax.nn.sigmoid(fake_logits), 1.0)}
        elif player == "generator":
            fake_logits, model_state = self._discriminate(model, params, model_state, fake, True, rngs)
            per_example = jax.nn.softplus(-fake_logits)
            metrics = {"g_loss": metrics_lib.pair(per_example, 1.0)}
        else:
            raise ValueError(f"unknown GAN player {player!r}; known: {', '.join(self.players)}.")
        return jnp.mean(per_example), (model_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"]): d_loss, g_loss and d_accuracy, the
        samples drawn from eval_seed."""
        real, weights = to_tanh_range(batch["input"]), batch["mask"]
        fake, _ = self._generate(model, params, model_state, jax.random.key(self.eval_seed), real.shape[0], False)
        real_logits, _ = self._discriminate(model, params, model_state, real, True)
        fake_logits, _ = self._discriminate(model, params, model_state, fake, True)
        correct = 0.5 * ((real_logits > 0).astype(jnp.float32) + (fake_logits < 0).astype(jnp.float32))
        return {"d_loss": metrics_lib.pair(jax.nn.softplus(-real_logits) + jax.nn.softplus(fake_logits), weights),
                "g_loss": metrics_lib.pair(jax.nn.softplus(-fake_logits), weights),
                "d_accuracy": metrics_lib.pair(correct, weights)}

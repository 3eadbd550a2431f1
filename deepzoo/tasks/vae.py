"""The VAE's objective: minus the evidence lower bound (Kingma & Welling 2014, eq. 10), in nats per image.

    -ELBO(x) = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I))
    KL = -1/2 sum_j (1 + log var_j - mean_j^2 - var_j)          (closed form for Gaussians, their Appendix B)
One sample of eps ~ N(0, I) per image (L = 1, as in the paper with batch 100), drawn from the step's
key in training and from a fixed key in evaluation, so that a test score is reproducible. beta > 1
weighs the KL more (beta-VAE, Higgins et al. 2017); 1 is the ELBO.
"""
import dataclasses

import jax
import jax.numpy as jnp

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model
from deepzoo.tasks.reconstruction import bernoulli_nll, check_unit_range, first_images


def gaussian_kl(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per example."""
    return -0.5 * jnp.sum(1.0 + log_var - mean ** 2 - jnp.exp(log_var), axis=-1)


@dataclasses.dataclass(frozen=True)
class VariationalAutoencoder:
    """Minus the ELBO (Kingma & Welling 2014) in nats per image, its KL weighted by beta
    (beta-VAE, Higgins et al. 2017); one eps ~ N(0, I) per image (module docstring)."""
    beta: float = 1.0
    eval_seed: int = 0

    def inputs(self, batch) -> tuple:
        """The model's positional inputs for shape checks: (batch["input"],), no eps."""
        return (batch["input"],)

    @staticmethod
    def _sampled(model, batch, key) -> tuple:
        x = batch["input"]
        return x, jax.random.normal(key, (x.shape[0], model.latent_dim))

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the decoder's output is not shaped like the
        images or the pixels are outside [0, 1]."""
        x = first_images(source)
        if tuple(output_shape["logits"][1:]) != tuple(x.shape[1:]):
            raise ValueError(f"model {model_name} decodes shape {output_shape['logits'][1:]} but the images have "
                             f"shape {x.shape[1:]}: set its image_shape to {tuple(x.shape[1:])}.")
        check_unit_range(x, f"the VAE's Bernoulli decoder ({model_name})")

    def _metrics(self, out, x, weights):
        reconstruction = bernoulli_nll(out["logits"], x)
        kl = gaussian_kl(out["mean"], out["log_var"])
        neg_elbo = reconstruction + kl
        return neg_elbo, reconstruction, kl, {
            "neg_elbo": metrics_lib.pair(neg_elbo, weights), "reconstruction": metrics_lib.pair(reconstruction, weights),
            "kl": metrics_lib.pair(kl, weights)}

    def loss(self, model, params, model_state, batch, rngs):
        """(mean reconstruction + beta * KL, (new model state, metrics)) of one training
        batch, eps drawn from rngs["dropout"]; metrics as in evaluate, and loss."""
        inputs = self._sampled(model, batch, jax.random.fold_in(rngs["dropout"], 1))
        out, new_state = apply_model(model, params, model_state, inputs, train=True, rngs=rngs)
        _, reconstruction, kl, metrics = self._metrics(out, batch["input"], 1.0)
        loss = jnp.mean(reconstruction + self.beta * kl)
        return loss, (new_state, {"loss": metrics_lib.pair(jnp.broadcast_to(loss, kl.shape), 1.0), **metrics})

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"]): neg_elbo, reconstruction and kl,
        eps drawn from eval_seed."""
        inputs = self._sampled(model, batch, jax.random.key(self.eval_seed))
        out, _ = apply_model(model, params, model_state, inputs, train=False)
        return self._metrics(out, batch["input"], batch["mask"])[3]

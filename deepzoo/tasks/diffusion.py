"""DDPM's forward process and training objective (Ho et al. 2020, Algorithm 1, L_simple): predict the
noise. The sampler (deepzoo/inference/sampling.py) reads the same Schedule.

    beta_t linear from 1e-4 to 0.02, T = 1000;   alpha_t = 1 - beta_t;   abar_t = prod_{s <= t} alpha_s
    q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)                         (the paper's eq. 4)
    x_0 in [-1, 1] (the images' [0, 1] scaled), t ~ U{0..T-1}, eps ~ N(0, I)
    loss = || eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t) ||^2   (mean over pixels)
The model is called as model(x_t, t). t and eps come from the step's key; evaluation uses one fixed
key, so a test loss is reproducible, and also reports the loss at four fixed noise levels (t = 10, 250,
500, 900: the low-noise end is where the details are).
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model
from deepzoo.tasks.reconstruction import check_unit_range, first_images

EVAL_STEPS = (10, 250, 500, 900)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """DDPM's linear beta schedule; t counts 0..T-1 here (the paper's 1..T)."""
    num_steps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    @property
    def betas(self):
        """beta_t for t = 0..num_steps-1, linear from beta_start to beta_end: (num_steps,) float32."""
        return jnp.asarray(np.linspace(self.beta_start, self.beta_end, self.num_steps, dtype=np.float64), jnp.float32)

    @property
    def alpha_bars(self):
        """abar_t = prod_{s <= t} (1 - beta_s): (num_steps,) float32, computed in float64."""
        # In float64, then float32: abar_999 ~ 4e-5 is a product of 1,000 factors.
        betas = np.linspace(self.beta_start, self.beta_end, self.num_steps, dtype=np.float64)
        return jnp.asarray(np.cumprod(1.0 - betas), jnp.float32)

    def add_noise(self, x0, t, eps):
        """x_t drawn from q(x_t | x_0) with the given noise eps; t (B,) int."""
        abar = self.alpha_bars[t].reshape(-1, *([1] * (x0.ndim - 1)))
        return jnp.sqrt(abar) * x0 + jnp.sqrt(1.0 - abar) * eps


@dataclasses.dataclass(frozen=True)
class Diffusion:
    """DDPM's noise-prediction objective L_simple (Ho, Jain & Abbeel 2020) on {"input": images in
    [0, 1]}, scaled to [-1, 1]; the model is called as model(x_t, t) (module docstring)."""
    num_steps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    eval_seed: int = 0

    @property
    def schedule(self) -> Schedule:
        """The Schedule of num_steps, beta_start and beta_end."""
        return Schedule(self.num_steps, self.beta_start, self.beta_end)

    def inputs(self, batch) -> tuple:
        """The model's positional inputs for shape checks: (images scaled to [-1, 1], t = 0 for
        each)."""
        x = batch["input"]
        return 2.0 * x - 1.0, jnp.zeros((x.shape[0],), jnp.int32)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the predicted noise is not shaped like the images or
        the pixels are outside [0, 1]."""
        x = first_images(source)
        if tuple(output_shape[1:]) != tuple(x.shape[1:]):
            raise ValueError(f"model {model_name} predicts noise of shape {output_shape[1:]} for images of shape "
                             f"{x.shape[1:]}: set its image_size and channels to match.")
        check_unit_range(x, f"the diffusion model ({model_name}), which scales [0, 1] to [-1, 1],")

    def _errors(self, model, params, model_state, x0, t, key, train, rngs=None):
        eps = jax.random.normal(key, x0.shape)
        x_t = self.schedule.add_noise(x0, t, eps)
        predicted, model_state = apply_model(model, params, model_state, (x_t, t), train=train, rngs=rngs)
        return jnp.mean((predicted - eps) ** 2, axis=tuple(range(1, x0.ndim))), model_state

    def loss(self, model, params, model_state, batch, rngs):
        """(the batch's mean of each image's mean squared noise error, (new model state, {"loss": (sum, count)}))
        of one training batch; t and eps are drawn from rngs["dropout"]."""
        x0 = 2.0 * batch["input"] - 1.0
        t_key, eps_key = jax.random.split(jax.random.fold_in(rngs["dropout"], 1))
        t = jax.random.randint(t_key, (x0.shape[0],), 0, self.num_steps)
        errors, model_state = self._errors(model, params, model_state, x0, t, eps_key, True, rngs)
        return jnp.mean(errors), (model_state, {"loss": metrics_lib.pair(errors, 1.0)})

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"]): loss at random t, and loss_t10 ..
        loss_t900 at the steps of EVAL_STEPS below num_steps, all from eval_seed."""
        x0, weights = 2.0 * batch["input"] - 1.0, batch["mask"]
        t_key, eps_key = jax.random.split(jax.random.key(self.eval_seed))
        t = jax.random.randint(t_key, (x0.shape[0],), 0, self.num_steps)
        errors, _ = self._errors(model, params, model_state, x0, t, eps_key, False)
        metrics = {"loss": metrics_lib.pair(errors, weights)}
        for step in EVAL_STEPS:
            if step < self.num_steps:
                errors, _ = self._errors(model, params, model_state, x0, jnp.full_like(t, step), eps_key, False)
                metrics[f"loss_t{step}"] = metrics_lib.pair(errors, weights)
        return metrics

"""DDPM's forward process and ancestral sampler (Ho, Jain & Abbeel 2020), for any noise-predicting
network eps_theta(x_t, t) such as the U-Net (unet.py). t counts 0..T-1 here (the paper's 1..T).

    beta_t linear from 1e-4 to 0.02, T = 1000;   alpha_t = 1 - beta_t;   abar_t = prod_{s <= t} alpha_s
    q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)                         (the paper's eq. 4)
    x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps_theta(x_t, t)) / sqrt(alpha_t) + sigma_t z,
    sigma_t^2 = beta_t, z ~ N(0, I) except at the last step                     (Algorithm 2)
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Schedule:
    num_steps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    @property
    def betas(self):
        return jnp.asarray(np.linspace(self.beta_start, self.beta_end, self.num_steps, dtype=np.float64), jnp.float32)

    @property
    def alpha_bars(self):
        # In float64, then float32: abar_999 ~ 4e-5 is a product of 1,000 factors.
        betas = np.linspace(self.beta_start, self.beta_end, self.num_steps, dtype=np.float64)
        return jnp.asarray(np.cumprod(1.0 - betas), jnp.float32)

    def add_noise(self, x0, t, eps):
        """x_t drawn from q(x_t | x_0) with the given noise eps; t (B,) int."""
        abar = self.alpha_bars[t].reshape(-1, *([1] * (x0.ndim - 1)))
        return jnp.sqrt(abar) * x0 + jnp.sqrt(1.0 - abar) * eps


def sample(eps_fn, schedule: Schedule, key, shape, *, keep_every: int = 0):
    """Algorithm 2 from x_T ~ N(0, I): -> x_0 of `shape`, and (with keep_every = k > 0) the chain
    x_t at t = T-1, T-1-k, ..., 0 stacked on a leading axis (for the denoising picture).
    eps_fn(x_t, t) -> predicted noise, t a (B,) int array. One lax.scan: compiled once, not T times."""
    betas, alpha_bars = schedule.betas, schedule.alpha_bars
    start, noise_key = jax.random.split(key)
    x_T = jax.random.normal(start, shape)

    def step(x, t):
        eps = eps_fn(x, jnp.full((shape[0],), t, jnp.int32))
        mean = (x - betas[t] / jnp.sqrt(1.0 - alpha_bars[t]) * eps) / jnp.sqrt(1.0 - betas[t])
        z = jax.random.normal(jax.random.fold_in(noise_key, t), shape)
        x = mean + jnp.where(t > 0, jnp.sqrt(betas[t]), 0.0) * z
        return x, x

    x0, chain = jax.lax.scan(step, x_T, jnp.arange(schedule.num_steps - 1, -1, -1))
    if not keep_every:
        return x0
    return x0, jnp.concatenate([x_T[None], chain[keep_every - 1::keep_every]])

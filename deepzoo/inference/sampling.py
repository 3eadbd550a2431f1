"""Drawing samples from generative models that need more than one forward pass.

DDPM's ancestral sampler (Ho, Jain & Abbeel 2020, Algorithm 2), for any noise-predicting network
eps_theta(x_t, t) such as the U-Net (deepzoo/models/unet.py) and the forward process's noise schedule
(deepzoo.tasks.diffusion.Schedule). t counts 0..T-1 here (the paper's 1..T).

    x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps_theta(x_t, t)) / sqrt(alpha_t) + sigma_t z,
    sigma_t^2 = beta_t, z ~ N(0, I) except at the last step

The one-pass samplers are model methods: a VAE's `decode(z)`, a flow's `inverse(z)`, a GAN's
`generate(z)`; token sequences are drawn by deepzoo/inference/decoding.py.
"""
import jax
import jax.numpy as jnp


def ddpm_sample(eps_fn, schedule, key, shape, *, keep_every: int = 0):
    """Algorithm 2 from x_T ~ N(0, I): -> x_0 of `shape`, and (with keep_every = k > 0) the chain
    x_t at t = T-1, T-1-k, ..., 0 stacked on a leading axis (for the denoising picture).
    eps_fn(x_t, t) -> predicted noise, t a (B,) int array; schedule: a deepzoo.tasks.diffusion.Schedule.
    One lax.scan: compiled once, not T times."""
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

"""Drawing samples from generative models that need more than one forward pass.

DDPM's ancestral sampler (Ho, Jain & Abbeel 2020, Algorithm 2), for any noise-predicting network
eps_theta(x_t, t) such as the U-Net (deepzoo/models/unet.py) and the forward process's noise schedule
(deepzoo.tasks.diffusion.Schedule). t counts 0..T-1 here (the paper's 1..T).

    x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps_theta(x_t, t)) / sqrt(alpha_t) + sigma_t z,
    sigma_t^2 = beta_t, z ~ N(0, I) except at the last step

With fewer steps K (T / K an integer) it visits every (T / K)-th t, the last one T - 1 and the schedule
respaced to them (Nichol & Dhariwal 2021, section 4): beta'_t = 1 - abar_t / abar_t', t' the next t visited,
so that the network trained on T steps samples in K.

The one-pass samplers are model methods: a VAE's `decode(z)`, a flow's `inverse(z)`, a GAN's
`generate(z)`; token sequences are drawn by deepzoo/inference/decoding.py.
"""
import jax
import jax.numpy as jnp
import numpy as np


def ddpm_sample(eps_fn, schedule, key, shape, *, keep_every: int = 0, num_steps: int = 0):
    """Algorithm 2 from x_T ~ N(0, I): -> x_0 of `shape`, and (with keep_every = k > 0) the chain
    x_t after every k-th step, stacked on a leading axis behind x_T (for the denoising picture).
    eps_fn(x_t, t) -> predicted noise, t a (B,) int array; schedule: a deepzoo.tasks.diffusion.Schedule;
    num_steps: the steps taken (0: all T; else a divisor of T, the schedule respaced as the module says).
    One lax.scan: compiled once, not T times."""
    T = schedule.num_steps
    num_steps = num_steps or T
    if T % num_steps:
        raise ValueError(f"num_steps={num_steps} must divide the schedule's {T} steps")
    stride = T // num_steps
    ts = np.arange(T - 1, -1, -stride)                 # visited, from T - 1 down to stride - 1
    alpha_bars = schedule.alpha_bars
    if stride == 1:
        betas = schedule.betas
    else:
        following = np.maximum(ts - stride, 0)          # the t visited next (abar = 1 after the last)
        abar_next = jnp.where(ts >= stride, alpha_bars[following], 1.0)
        betas = jnp.zeros(T).at[ts].set(1.0 - alpha_bars[ts] / abar_next)
    start, noise_key = jax.random.split(key)
    x_T = jax.random.normal(start, shape)

    def step(x, t):
        eps = eps_fn(x, jnp.full((shape[0],), t, jnp.int32))
        mean = (x - betas[t] / jnp.sqrt(1.0 - alpha_bars[t]) * eps) / jnp.sqrt(1.0 - betas[t])
        z = jax.random.normal(jax.random.fold_in(noise_key, t), shape)
        x = mean + jnp.where(t >= stride, jnp.sqrt(betas[t]), 0.0) * z
        return x, x

    x0, chain = jax.lax.scan(step, x_T, jnp.asarray(ts))
    if not keep_every:
        return x0
    return x0, jnp.concatenate([x_T[None], chain[keep_every - 1::keep_every]])

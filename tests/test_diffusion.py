"""DDPM: the U-Net's size against the paper, the schedule and the sampler against closed forms (a
Gaussian data distribution, whose optimal noise predictor is known exactly), the loss, bad input."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import data, models, tasks
from deepzoo.inference.sampling import ddpm_sample
from deepzoo.models.unet import timestep_embedding
from deepzoo.tasks.diffusion import Schedule


def test_cifar10_unet_has_the_papers_35_7m_parameters():
    summary = models.summary("unet_ddpm_cifar10", quiet=True)
    assert summary.params == 35_746_307 and summary.output_shape == (32, 32, 3)
    assert models.summary("unet_ddpm_mnist", quiet=True).output_shape == (28, 28, 1)


def test_schedule_is_linear_from_1e4_to_002_and_abar_is_its_running_product():
    s = Schedule()
    betas = np.asarray(s.betas)
    assert betas.shape == (1000,) and np.isclose(betas[0], 1e-4) and np.isclose(betas[-1], 0.02)
    np.testing.assert_allclose(np.diff(betas), (0.02 - 1e-4) / 999, rtol=1e-3)
    expected = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    np.testing.assert_allclose(s.alpha_bars, expected, rtol=1e-5)
    assert 3e-5 < expected[-1] < 5e-5   # x_T is nearly pure noise
    x0, eps = jnp.full((2, 3), 0.5), jnp.ones((2, 3))
    np.testing.assert_allclose(s.add_noise(x0, jnp.array([0, 999]), eps)[:, 0],
                               np.sqrt(expected[[0, 999]]) * 0.5 + np.sqrt(1 - expected[[0, 999]]), rtol=1e-5)


def test_timestep_embedding_is_sines_then_cosines():
    emb = np.asarray(timestep_embedding(jnp.array([0, 7]), 8))
    freqs = np.exp(-np.log(10000) * np.arange(4) / 3)
    np.testing.assert_allclose(emb[1], np.concatenate([np.sin(7 * freqs), np.cos(7 * freqs)]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(emb[0], [0, 0, 0, 0, 1, 1, 1, 1])


def gaussian_oracle(schedule, mu, std):
    """E[eps | x_t] for data x_0 ~ N(mu, std^2): x_t ~ N(sqrt(abar) mu, abar std^2 + 1 - abar)."""
    def eps(x, t):
        abar = schedule.alpha_bars[t][:, None]
        return jnp.sqrt(1 - abar) * (x - jnp.sqrt(abar) * mu) / (abar * std ** 2 + 1 - abar)
    return eps


def test_ancestral_sampling_with_the_exact_noise_predictor_recovers_the_data_distribution():
    # Algorithm 2 with the optimal eps for N(0.7, 0.2^2): the samples must have that mean and spread.
    schedule, mu, std = Schedule(), 0.7, 0.2
    x0, chain = jax.jit(lambda k: ddpm_sample(gaussian_oracle(schedule, mu, std), schedule, k, (20000, 1),
                                         keep_every=100))(jax.random.key(0))
    assert abs(float(x0.mean()) - mu) < 0.01 and abs(float(x0.std()) / std - 1) < 0.03
    assert chain.shape == (11, 20000, 1)   # x_T, then every 100th step down to x_0
    np.testing.assert_array_equal(chain[-1], x0)
    assert abs(float(chain[0].std()) - 1) < 0.03   # x_T ~ N(0, I)


def test_respaced_sampling_in_100_steps_recovers_the_data_distribution_and_in_t_steps_is_algorithm_2():
    schedule, mu, std = Schedule(), 0.7, 0.2
    sample = lambda k, **kw: ddpm_sample(gaussian_oracle(schedule, mu, std), schedule, k, (20000, 1), **kw)
    x0, chain = jax.jit(lambda k: sample(k, num_steps=100, keep_every=10))(jax.random.key(0))
    # sigma^2 = beta', the larger of DDPM's two variances, adds a little spread when the steps are long (3% here).
    assert abs(float(x0.mean()) - mu) < 0.01 and abs(float(x0.std()) / std - 1) < 0.05
    assert chain.shape == (11, 20000, 1)
    # Respacing to every t by hand reproduces the plain sampler exactly.
    np.testing.assert_array_equal(sample(jax.random.key(1), num_steps=1000), sample(jax.random.key(1)))
    with pytest.raises(ValueError, match="must divide"):
        sample(jax.random.key(0), num_steps=300)


class DeltaOracle(nn.Module):
    """The exact noise predictor for data that is always the image c: eps = (x_t - sqrt(abar) c) / sqrt(1 - abar)."""
    c: float = 0.4   # in the model's [-1, 1] range
    output_shape = (28, 28, 1)

    @nn.compact
    def __call__(self, x, t, *, train=False):
        self.param("unused", nn.initializers.zeros, ())
        abar = Schedule().alpha_bars[t].reshape(-1, 1, 1, 1)
        return (x - jnp.sqrt(abar) * self.c) / jnp.sqrt(1 - abar)


class Zeros(nn.Module):
    @nn.compact
    def __call__(self, x, t, *, train=False):
        return jnp.zeros_like(x)


def test_the_loss_of_the_exact_predictor_is_zero_and_of_a_zero_predictor_is_one():
    task = tasks.get("diffusion")
    batch = {"input": jnp.full((64, 28, 28, 1), 0.7), "mask": jnp.ones(64)}   # 0.7 -> 0.4 in [-1, 1]
    oracle = DeltaOracle()
    params = oracle.init(jax.random.key(0), *task.inputs(batch))["params"]
    loss, (_, metrics) = task.loss(oracle, params, {}, batch, {"dropout": jax.random.key(1)})
    assert float(loss) < 1e-6
    evaluated = task.evaluate(oracle, params, {}, batch)
    assert set(evaluated) == {"loss", "loss_t10", "loss_t250", "loss_t500", "loss_t900"}
    assert all(float(s / n) < 1e-6 for s, n in evaluated.values())
    # A predictor of zeros costs E[eps^2] = 1 per pixel.
    loss, _ = task.loss(Zeros(), {}, {}, batch, {"dropout": jax.random.key(1)})
    assert abs(float(loss) - 1) < 0.01


def test_bad_input_is_named():
    unet = models.get("unet_ddpm_mnist")
    x = jnp.zeros((2, 28, 28, 1))
    variables = jax.eval_shape(unet.init, jax.random.key(0), x, jnp.zeros(2, jnp.int32))
    with pytest.raises(ValueError, match=r"one step number per image, t of shape \(2,\)"):
        jax.eval_shape(lambda v: unet.apply(v, x, jnp.zeros(3, jnp.int32)), variables)
    with pytest.raises(ValueError, match="expects 28x28 images"):
        jax.eval_shape(lambda v: unet.apply(v, jnp.zeros((2, 32, 32, 1)), jnp.zeros(2, jnp.int32)), variables)
    pixels = data.ArraySource({"input": np.full((4, 28, 28, 1), 255.0, np.float32), "label": np.zeros(4, np.int32)})
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\]"):
        tasks.get("diffusion").validate((1, 28, 28, 1), pixels, "unet_ddpm_mnist")
    with pytest.raises(ValueError, match="set its image_size and channels"):
        tasks.get("diffusion").validate((1, 32, 32, 3), pixels, "unet_ddpm_cifar10")

"""Autoencoders, the VAE, DCGAN and RealNVP: sizes, the ELBO's terms against closed forms and NumPy, the
tasks' noise and penalties, the two-player step against its updates written out, bad input, and short
training runs on real digits."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import data, models, tasks
from deepzoo import config as config_lib
from deepzoo.tasks.reconstruction import bernoulli_nll
from deepzoo.tasks.vae import gaussian_kl
from deepzoo.train.trainer import train_and_evaluate


def count(name, **kwargs):
    model = models.get(name, **kwargs)
    variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(variables["params"]))


def test_vae_is_kingma_and_wellings_784_500_20():
    assert count("vae_mnist") == 815_824 == (784 * 500 + 500) + 2 * (500 * 20 + 20) + (20 * 500 + 500) + (500 * 784 + 784)


def test_mlp_autoencoder_parameters_closed_form():
    sizes = [784, 512, 256, 32, 256, 512, 784]
    assert count("autoencoder_mnist") == sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def test_gaussian_kl_matches_the_closed_form_and_monte_carlo():
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)) * 0.5
    var = np.exp(log_var)
    closed = 0.5 * np.sum(var + mean ** 2 - 1 - log_var, axis=-1)
    np.testing.assert_allclose(gaussian_kl(jnp.asarray(mean), jnp.asarray(log_var)), closed, rtol=1e-5)
    # E_q[log q(z) - log p(z)] by sampling, for the first row
    z = mean[0] + np.sqrt(var[0]) * rng.normal(size=(200_000, 4))
    log_q = -0.5 * np.sum((z - mean[0]) ** 2 / var[0] + log_var[0] + np.log(2 * np.pi), -1)
    log_p = -0.5 * np.sum(z ** 2 + np.log(2 * np.pi), -1)
    assert abs(np.mean(log_q - log_p) - closed[0]) < 0.02


def test_bernoulli_nll_is_the_summed_cross_entropy():
    rng = np.random.default_rng(1)
    logits, x = rng.normal(size=(2, 28, 28, 1)), rng.uniform(size=(2, 28, 28, 1))
    p = 1 / (1 + np.exp(-logits))
    expected = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    np.testing.assert_allclose(bernoulli_nll(jnp.asarray(logits), jnp.asarray(x)), expected, rtol=1e-5)


def test_reparameterisation_moves_z_by_the_standard_deviation_and_passes_gradients():
    model = models.get("vae_mnist")
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(2, 28, 28, 1)), jnp.float32)
    variables = jax.jit(model.init)(jax.random.key(0), x)
    apply = jax.jit(model.apply, static_argnames="method")
    mean, log_var = apply(variables, x, method="encode")
    eps = jax.random.normal(jax.random.key(1), mean.shape)
    out = apply(variables, x, eps)
    z = mean + jnp.exp(0.5 * log_var) * eps
    np.testing.assert_allclose(out["logits"], apply(variables, z, method="decode"), atol=1e-5)
    np.testing.assert_allclose(apply(variables, x)["logits"], apply(variables, mean, method="decode"),
                               atol=1e-5)   # no eps: the posterior mean
    task = tasks.get("vae")
    grads = jax.jit(jax.grad(lambda p: task.loss(model, p, {}, {"input": x}, {"dropout": jax.random.key(2)})[0]))(
        variables["params"])
    assert float(jnp.abs(grads["log_var_layer"]["kernel"]).sum()) > 0


def test_denoising_corrupts_training_inputs_only():
    task = tasks.get("reconstruction", noise_std=0.3, mask_fraction=0.25)
    x = jnp.full((64, 28, 28, 1), 0.5)
    noisy = jax.jit(task.corrupt)(x, jax.random.key(0))
    zeroed = float(jnp.mean(noisy == 0.0))
    assert abs(zeroed - 0.25) < 0.01
    kept = noisy[noisy != 0.0]
    assert abs(float(jnp.std(kept)) - 0.3) < 0.01 and abs(float(jnp.mean(kept)) - 0.5) < 0.01
    model = models.get("autoencoder_mnist")
    variables = jax.jit(model.init)(jax.random.key(0), x)
    batch = {"input": x, "mask": jnp.ones(64)}
    clean = jax.jit(lambda p: tasks.get("reconstruction").evaluate(model, p, {}, batch))(variables["params"])
    noisy_eval = jax.jit(lambda p: task.evaluate(model, p, {}, batch))(variables["params"])
    assert clean == noisy_eval   # evaluation sees clean inputs


def test_kl_sparsity_penalty_matches_numpy():
    task = tasks.get("reconstruction", sparsity="kl", sparsity_target=0.05)
    code = np.random.default_rng(0).uniform(0.01, 0.99, size=(8, 16)).astype(np.float32)
    rho, rho_hat = 0.05, code.mean(0)
    expected = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    out = {"reconstruction": jnp.zeros((8, 28, 28, 1)), "code": jnp.asarray(code)}
    _, penalty = task._terms(out, jnp.zeros((8, 28, 28, 1)))
    np.testing.assert_allclose(penalty, expected, rtol=1e-5)


def test_bad_inputs_are_named():
    vae = models.get("vae_mnist")
    variables = jax.eval_shape(vae.init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    with pytest.raises(ValueError, match="expects images of shape"):
        jax.eval_shape(lambda v: vae.apply(v, jnp.zeros((1, 32, 32, 1))), variables)
    with pytest.raises(ValueError, match="latent_dim"):
        jax.eval_shape(lambda v: vae.apply(v, jnp.zeros((1, 8)), method="decode"), variables)
    pixels = data.ArraySource({"input": np.full((4, 28, 28, 1), 255.0, np.float32), "label": np.zeros(4, np.int32)})
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\].*\[255, 255\]"):
        tasks.get("vae").validate({"logits": (1, 28, 28, 1)}, pixels, "vae_mnist")
    with pytest.raises(ValueError, match="set its image_shape"):
        tasks.get("reconstruction").validate({"reconstruction": (1, 32, 32, 1), "code": (1, 2)}, pixels, "ae")


@pytest.mark.slow   # ~14 s
def test_a_checkpoint_with_another_latent_size_names_the_changed_field(tmp_path):
    config = config_lib.load("configs/mnist5k_generative.py:vae,smoke")
    train_and_evaluate(config, tmp_path)
    config = config_lib.load("configs/mnist5k_generative.py:vae,smoke", **{"model.kwargs.latent_dim": 10})
    with pytest.raises(ValueError, match=r"model.kwargs.latent_dim 20 -> 10"):
        train_and_evaluate(config, tmp_path)


@pytest.mark.slow
def test_vae_learns_on_real_digits(tmp_path):
    config = config_lib.load("configs/mnist5k_generative.py:vae", **{"num_train_steps": 150, "eval_every_steps": 0,
                                                                           "batch_size": 96})
    results = train_and_evaluate(config, tmp_path)
    # an untrained decoder costs 784 log 2 = 543 nats; 150 steps of Adam get well below 200
    assert results["test_neg_elbo"] < 200 and results["test_kl"] > 1


def test_dcgan_has_the_papers_layout_and_sizes():
    sizes = {}
    for name, shape in (("dcgan_generator", (100,)), ("dcgan_discriminator", (64, 64, 3))):
        model = models.get(name)
        variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, *shape)))
        sizes[name] = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(variables["params"]))
        kernels = [p for path, p in jax.tree_util.tree_leaves_with_path(variables["params"])
                   if "kernel" in jax.tree_util.keystr(path)]
        assert all(k.shape[:2] in ((4, 4),) for k in kernels)   # every layer 4x4, no dense layer, no bias
        assert not any("bias" in jax.tree_util.keystr(path) and "norm" not in jax.tree_util.keystr(path)
                       for path, _ in jax.tree_util.tree_leaves_with_path(variables["params"]))
    assert sizes == {"dcgan_generator": 3_576_704, "dcgan_discriminator": 2_765_568}


def test_dcgan_initialisation_and_output_range():
    g = models.get("dcgan_generator_mnist")
    z = jax.random.normal(jax.random.key(0), (16, 100))
    variables = jax.jit(g.init)(jax.random.key(1), z)
    kernel = np.asarray(variables["params"]["up1"]["kernel"])
    assert abs(kernel.std() - 0.02) < 0.002 and abs(kernel.mean()) < 0.002     # N(0, 0.02)
    scale = np.asarray(variables["params"]["up1_norm"]["scale"])
    assert abs(scale.mean() - 1) < 0.01 and 0.005 < scale.std() < 0.04           # N(1, 0.02)
    images = jax.jit(g.apply)(variables, z)
    assert images.shape == (16, 28, 28, 1) and float(jnp.max(jnp.abs(images))) <= 1.0   # tanh
    with pytest.raises(ValueError, match=r"codes of shape \(batch, 100\)"):
        g.apply(variables, z[:, :10])
    d = models.get("dcgan_discriminator_mnist")
    d_vars = jax.eval_shape(d.init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    with pytest.raises(ValueError, match="expects 28x28 images"):
        jax.eval_shape(lambda v: d.apply(v, jnp.zeros((1, 32, 32, 1))), d_vars)


def test_flow_log_determinant_equals_jacfwds():
    # A 2x3 "image": the logit preprocessing and 4 couplings, against the Jacobian's log-determinant.
    model = models.get("realnvp_mnist", image_shape=(2, 3, 1), num_couplings=4, hidden=16)
    x = jnp.asarray(np.random.default_rng(0).uniform(0.05, 0.95, size=(1, 2, 3, 1)), jnp.float32)
    variables = model.init(jax.random.key(0), x)
    # perturb the zero-initialised output layers so that every coupling does something
    variables = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.key(1), p.shape), variables)
    forward = lambda flat: model.apply(variables, flat.reshape(1, 2, 3, 1))["z"][0]
    jacobian = jax.jacfwd(forward)(x.reshape(-1))
    _, expected = np.linalg.slogdet(np.asarray(jacobian, np.float64))
    out = model.apply(variables, x)
    np.testing.assert_allclose(out["log_det"][0], expected, rtol=1e-4, atol=1e-4)
    back = model.apply(variables, out["z"], method="inverse")
    np.testing.assert_allclose(back, x, atol=1e-4)   # invertible in closed form


@pytest.mark.slow
def test_flow_bits_per_dimension_beats_uniform_after_a_few_hundred_steps(tmp_path):
    config = config_lib.load("configs/mnist5k_generative.py:flow", **{
        "num_train_steps": 200, "eval_every_steps": 0, "batch_size": 96, "model.kwargs.num_couplings": 4,
        "model.kwargs.hidden": 256})
    results = train_and_evaluate(config, tmp_path)
    assert results["test_bits_per_dim"] < 5.0   # 8 bits: a uniform model of 256 levels


@pytest.mark.slow
def test_autoencoder_experiment_writes_pictures_and_table(run_experiment):
    out = run_experiment("autoencoders.py", "--variant=smoke")
    for name in ("reconstructions.png", "codes_2d.png", "vae_samples.png", "vae_traversal.png", "flow_samples.png"):
        assert (out / name).stat().st_size > 0, name
    table = (out / "results.md").read_text()
    assert "| vae | 815,824 |" in table and "| sparse |" in table and "bits per dimension" in table


@pytest.mark.slow   # ~20 s: compiles both players' steps
def test_the_gan_step_updates_the_discriminator_then_the_generator_against_the_latest_discriminator():
    # One step of the generic step with the GAN task, against Goodfellow et al.'s alternating updates
    # written out here: Adam on D's own loss, then Adam on G's non-saturating loss through the new D.
    import optax
    from deepzoo.tasks.gan import sample_noise
    from deepzoo.train.state import create_train_state
    from deepzoo.train.step import make_train_step
    model = models.get("dcgan_mnist", base_channels=8, latent_dim=6)
    task, tx = tasks.get("gan"), optax.adam(1e-3, b1=0.5)
    images = jnp.asarray(np.random.default_rng(0).uniform(size=(8, 28, 28, 1)), jnp.float32)
    state = create_train_state(model, tx, task.inputs({"input": images}), seed=0, players=task.players)
    assert set(state.opt_state) == {"discriminator", "generator"}
    new_state, metrics = jax.jit(make_train_step(model, task, tx, seed=3))(state, {"input": images})

    z = sample_noise(jax.random.fold_in(jax.random.fold_in(jax.random.key(3), 0), 1), 8, 6)
    stats = state.model_state["batch_stats"]

    def run(params, method, x):
        return model.apply({"params": params, "batch_stats": stats}, x, train=True, method=method,
                           mutable=["batch_stats"])[0]

    def d_loss(d, g):
        fake = run({"generator": g, "discriminator": d}, "generate", z)
        real_logit = run({"generator": g, "discriminator": d}, "discriminate", 2 * images - 1)
        fake_logit = run({"generator": g, "discriminator": d}, "discriminate", jax.lax.stop_gradient(fake))
        return jnp.mean(-jnp.log(jax.nn.sigmoid(real_logit)) - jnp.log(1 - jax.nn.sigmoid(fake_logit)))

    def g_loss(g, d):
        fake = run({"generator": g, "discriminator": d}, "generate", z)
        return jnp.mean(-jnp.log(jax.nn.sigmoid(run({"generator": g, "discriminator": d}, "discriminate", fake))))

    d_loss, g_loss = jax.jit(d_loss), jax.jit(g_loss)
    params = state.params
    grads = jax.jit(jax.grad(d_loss))(params["discriminator"], params["generator"])
    updates, _ = tx.update(grads, tx.init(params["discriminator"]))
    d_new = optax.apply_updates(params["discriminator"], updates)
    grads = jax.jit(jax.grad(g_loss))(params["generator"], d_new)   # the generator plays against the updated D
    updates, _ = tx.update(grads, tx.init(params["generator"]))
    g_new = optax.apply_updates(params["generator"], updates)
    for got, want in ((new_state.params["discriminator"], d_new), (new_state.params["generator"], g_new)):
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), got, want)
    np.testing.assert_allclose(metrics["d_loss"][0] / metrics["d_loss"][1],
                               d_loss(params["discriminator"], params["generator"]), rtol=1e-5)
    np.testing.assert_allclose(metrics["g_loss"][0] / metrics["g_loss"][1], g_loss(params["generator"], d_new),
                               rtol=1e-5)


def test_dcgan_pair_holds_the_two_players_of_the_papers_sizes():
    model = models.get("dcgan")
    variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 64, 64, 3)))
    sizes = {k: sum(int(np.prod(p.shape)) for p in jax.tree.leaves(v)) for k, v in variables["params"].items()}
    assert sizes == {"generator": 3_576_704, "discriminator": 2_765_568}


@pytest.mark.slow
def test_gan_trains_and_resumes_through_the_trainer(tmp_path):
    config = config_lib.load("configs/mnist5k_generative.py:gan,smoke", **{"model.kwargs.base_channels": 8})
    first = train_and_evaluate(config, tmp_path / "full")
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(first) and np.isfinite(first["test_d_loss"])
    half = config_lib.load("configs/mnist5k_generative.py:gan,smoke",
                           **{"model.kwargs.base_channels": 8, "num_train_steps": 2})
    train_and_evaluate(half, tmp_path / "resumed")
    resumed = train_and_evaluate(config, tmp_path / "resumed")
    assert resumed["test_d_loss"] == first["test_d_loss"] and resumed["test_g_loss"] == first["test_g_loss"]


def test_gan_bad_input_is_named():
    pixels = data.ArraySource({"input": np.full((4, 28, 28, 1), 255.0, np.float32), "label": np.zeros(4, np.int32)})
    with pytest.raises(ValueError, match=r"set its image_size and channels"):
        tasks.get("gan").validate({"samples": (1, 64, 64, 3), "logits": (1, 1)}, pixels, "dcgan")
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\]"):
        tasks.get("gan").validate({"samples": (1, 28, 28, 1), "logits": (1, 1)}, pixels, "dcgan_mnist")
    with pytest.raises(ValueError, match="known: discriminator, generator"):
        model = models.get("dcgan_mnist", base_channels=8)
        variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((8, 28, 28, 1)))
        jax.eval_shape(lambda v: tasks.get("gan").loss(
            model, v["params"], {"batch_stats": v["batch_stats"]}, {"input": jnp.zeros((8, 28, 28, 1))},
            {"dropout": jax.random.key(0)}, player="critic"), variables)


@pytest.mark.slow
def test_generative_samples_experiment_scores_every_model(run_experiment):
    out = run_experiment("generative_samples.py", "--variant=smoke", "--num_samples=16")
    for name in ("samples.png", "gan_samples.png", "diffusion_samples.png", "diffusion_chain.png", "results.csv"):
        assert (out / name).stat().st_size > 0, name
    table = (out / "results.md").read_text()
    for row in ("real test digits", "vae", "gan", "flow", "diffusion"):
        assert f"| {row} |" in table, row

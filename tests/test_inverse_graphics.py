"""The generated shapes (areas in closed form, one factor varying per group, determinism), the DC-IGN network's
size, and its clamped training against the same loss computed by hand."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import models, tasks
from deepzoo.analysis import complexity
from deepzoo.data import shapes


def test_shapes_have_their_closed_form_areas():
    # centred, unrotated (rotation factor 1/2), full size: radius 0.22 x 32 pixels to the unit frame's edge
    r = 0.22 * shapes.SIZE
    square, ellipse, heart = shapes.render(np.array([[0, 1, 0.5, 0.5, 0.5], [0.5, 1, 0.5, 0.5, 0.5],
                                                     [1, 1, 0.5, 0.5, 0.5]]))[..., 0].sum((1, 2))
    # supersampling puts each edge within half a sample (1/8 pixel) of the true one: tolerance perimeter / 4
    assert square == pytest.approx((1.6 * r) ** 2, abs=4 * 1.6 * r / shapes.SUPERSAMPLE)   # 4 sides / 4
    a, b = r, 0.55 * r
    assert ellipse == pytest.approx(np.pi * a * b, abs=2 * np.pi * np.sqrt((a * a + b * b) / 2) / shapes.SUPERSAMPLE)
    # rotation and position keep the area; half the scale quarters it
    moved = shapes.render(np.array([[0, 1, 0.9, 0.1, 0.8], [0, 0, 0.5, 0.5, 0.5]]))[..., 0].sum((1, 2))
    side = 1.6 * r
    assert moved[0] == pytest.approx(side ** 2, abs=4 * side / shapes.SUPERSAMPLE)
    assert moved[1] == pytest.approx(side ** 2 / 4, abs=2 * side / shapes.SUPERSAMPLE)
    assert 0 < heart < square


def test_groups_vary_one_factor_each_and_are_deterministic():
    g = shapes.groups(20, group=4, seed=3)
    assert g["input"].shape == (20, 4, 32, 32, 1) and g["factors"].shape == (20, 4, 5)
    assert np.bincount(g["factor"], minlength=5).tolist() == [4] * 5
    for factors, varying in zip(g["factors"], g["factor"]):
        fixed = np.delete(factors, varying, axis=1)
        assert (fixed == fixed[0]).all()                       # the other factors are the group's
        if varying:
            assert len(np.unique(factors[:, varying])) == 4    # a continuous factor takes new values
    np.testing.assert_array_equal(shapes.groups(20, group=4, seed=3)["input"], g["input"])


def test_network_size_and_shapes():
    model = models.get("dcign_shapes")
    x = jnp.zeros((2, 32, 32, 1))
    variables = jax.eval_shape(lambda: model.init(jax.random.key(0), x))
    enc = (16 * 1 * 32 + 32) + (16 * 32 * 64 + 64) + (16 * 64 * 64 + 64) + (4 * 4 * 64 * 256 + 256) + 2 * (256 * 10 + 10)
    dec = (10 * 256 + 256) + (256 * 1024 + 1024) + (16 * 64 * 64 + 64) + (16 * 64 * 32 + 32) + (16 * 32 * 1 + 1)
    assert complexity.count_params(variables["params"]) == enc + dec
    out = jax.eval_shape(lambda v: model.apply(v, x), variables)
    assert out["logits"].shape == (2, 32, 32, 1) and out["mean"].shape == (2, 10)


def test_clamped_loss_equals_the_loss_by_hand():
    task = tasks.get("inverse_graphics", latents_per_factor=(2, 1, 1), clamp=True)
    model = models.get("dcign_shapes", latent_dim=4, features=(4, 4), hidden=8, image_shape=(8, 8, 1))
    x = jax.random.uniform(jax.random.key(0), (3, 5, 8, 8, 1))
    batch = {"input": x, "factor": jnp.array([0, 2, 1])}
    params = jax.jit(model.init)(jax.random.key(1, impl="rbg"), x[:, 0])["params"]   # rbg: compiles faster
    rngs = {"dropout": jax.random.key(2)}
    loss, (_, metrics) = jax.jit(lambda p: task.loss(model, p, {}, batch, rngs))(params)   # jitted: op by op is slow

    encode = jax.jit(lambda x: model.apply({"params": params}, x, method="encode"))
    mean, log_var = (np.asarray(a, np.float64).reshape(3, 5, 4) for a in encode(x.reshape(15, 8, 8, 1)))
    eps = np.asarray(jax.random.normal(jax.random.fold_in(rngs["dropout"], 1), (3, 5, 4)))
    z = mean + np.exp(0.5 * log_var) * eps
    owned = {0: [0, 1], 1: [2], 2: [3]}                        # factor -> its latents
    decoded, invariance = z.copy(), np.zeros((3, 5))
    for b, f in enumerate([0, 2, 1]):
        for j in range(4):
            if j not in owned[f]:                              # clamped to the group's mean
                decoded[b, :, j] = z[b, :, j].mean()
                invariance[b] += 0.5 * (z[b, :, j] - z[b, :, j].mean()) ** 2
    logits = np.asarray(jax.jit(lambda z: model.apply({"params": params}, z, method="decode"))(
        jnp.asarray(decoded.reshape(15, 4), jnp.float32)), np.float64)
    p = 1 / (1 + np.exp(-logits))
    xs = np.asarray(x).reshape(15, 8, 8, 1)
    reconstruction = -(xs * np.log(p) + (1 - xs) * np.log(1 - p)).reshape(15, -1).sum(-1)
    kl = -0.5 * (1 + log_var - mean ** 2 - np.exp(log_var)).sum(-1).reshape(-1)
    expected = reconstruction + kl + invariance.reshape(-1)
    np.testing.assert_allclose(loss, expected.mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["invariance"][0] / metrics["invariance"][1], invariance.mean(), rtol=1e-5)



def test_the_task_names_a_wrong_code_size_and_data_without_groups():
    from deepzoo import data
    groups = data.ArraySource(shapes.groups(5, group=2, seed=0), None)
    with pytest.raises(ValueError, match="latent_dim=10"):
        tasks.get("inverse_graphics").validate({"mean": (2, 4)}, groups, "dcign_shapes")
    flat = data.ArraySource({"input": np.zeros((4, 32, 32, 1), np.float32), "label": np.zeros(4, int)}, 1)
    with pytest.raises(ValueError, match="groups of images in which one factor varies"):
        tasks.get("inverse_graphics").validate({"mean": (2, 10)}, flat, "dcign_shapes")


@pytest.mark.slow
def test_inverse_graphics_experiment_writes_its_table_and_figure(run_experiment):
    out = run_experiment("inverse_graphics.py", "--variant=smoke")
    table = (out / "results.md").read_text()
    assert "| dcign | rotation |" in table and "| vae | y |" in table
    assert (out / "inverse_graphics.png").stat().st_size > 10_000

"""SimCLR: NT-Xent against a NumPy loop over the views, the augmentations, the loss over a mesh."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec

from deepzoo import models, tasks
from deepzoo.tasks.contrastive import augment, nt_xent
from deepzoo.train import sharding


def nt_xent_numpy(z1, z2, tau):
    z = np.concatenate([z1, z2]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n, losses = len(z1), []
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        others = [k for k in range(2 * n) if k != i]
        sims = np.array([z[i] @ z[k] / tau for k in others])
        losses.append(-(z[i] @ z[positive] / tau) + np.log(np.sum(np.exp(sims))))
    return np.array(losses)


def test_nt_xent_matches_a_numpy_loop_over_the_views():
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    losses, found = nt_xent(jnp.asarray(z1), jnp.asarray(z2), 0.5)
    np.testing.assert_allclose(losses, nt_xent_numpy(z1, z2, 0.5), rtol=1e-5)
    # identical views far from the others: every positive is found and the loss is near its floor
    spread = np.eye(5, 7) * 10
    losses, found = nt_xent(jnp.asarray(spread), jnp.asarray(spread), 0.1)
    assert bool(jnp.all(found)) and float(losses.max()) < 1e-3


def test_augment_keeps_shape_and_range_and_is_the_identity_without_randomness():
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(4, 28, 28, 1)), jnp.float32)
    views = augment(x, jax.random.key(0))
    assert views.shape == x.shape and float(views.min()) >= 0 and float(views.max()) <= 1
    assert float(jnp.abs(views - x).mean()) > 0.05
    same = augment(x, jax.random.key(0), min_area=1.0, aspect=1.0, brightness=0.0, contrast=0.0)
    np.testing.assert_allclose(same, x, atol=1e-5)
    assert not np.allclose(augment(x, jax.random.key(1)), views)


@pytest.mark.slow
def test_the_contrastive_loss_spans_the_whole_batch_on_a_mesh():
    model, task = models.get("simclr_mnist", widths=(8, 8, 16, 16)), tasks.get("contrastive")
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(16, 28, 28, 1)), jnp.float32)
    variables = model.init(jax.random.key(0), x)
    state = {"batch_stats": variables["batch_stats"]}
    loss = lambda batch: task.loss(model, variables["params"], state, batch, {"dropout": jax.random.key(1)})[0]
    mesh = sharding.make_mesh()
    sharded = jax.device_put({"input": x}, NamedSharding(mesh, PartitionSpec("data")))
    assert mesh.devices.size == 8
    loss = jax.jit(loss)
    np.testing.assert_allclose(loss(sharded), loss({"input": x}), rtol=1e-5)
    # 16 images: each view has 31 candidates, so chance-level loss is about log 31
    assert abs(float(loss({"input": x})) - np.log(31)) < 0.5


def test_a_model_without_a_projection_is_named():
    with pytest.raises(ValueError, match="needs a model that returns {'projection'"):
        tasks.get("contrastive").validate((1, 10), None, "lenet_mnist")


@pytest.mark.slow
def test_simclr_experiment_probes_three_feature_sets(run_experiment):
    out = run_experiment("simclr.py", "--variant=smoke")
    table = (out / "results.md").read_text()
    assert "| SimCLR encoder | 16 |" in table and "| random encoder | 16 |" in table and "| raw pixels | 784 |" in table
    assert (out / "embeddings.png").stat().st_size > 0

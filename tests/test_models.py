"""The model registry and the MLP, checked against a NumPy forward pass and closed-form counts."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import models


def num_params(tree):
    return sum(x.size for x in jax.tree.leaves(tree))


def test_unknown_model_lists_close_matches_and_known_names():
    with pytest.raises(KeyError, match=r"unknown model 'mpl'.*Did you mean 'mlp'.*Known models: .*shallow_mlp"):
        models.get("mpl")


def test_unknown_field_lists_the_models_fields():
    with pytest.raises(TypeError, match=r"model 'mlp'.*widht.*Its fields: depth, width"):
        models.get("mlp", widht=3)


def test_unknown_activation_lists_known_ones():
    model = models.get("mlp", activation="relu6x")
    with pytest.raises(ValueError, match="unknown activation 'relu6x'; known: .*gelu"):
        model.init(jax.random.key(0), jnp.ones((1, 4)))


@pytest.mark.parametrize("depth,width,inputs,outputs", [(2, 100, 40, 10), (1, 7, 1, 1), (3, 32, 64, 5)])
def test_mlp_parameter_count_closed_form(depth, width, inputs, outputs):
    model = models.get("mlp", depth=depth, width=width, num_outputs=outputs)
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.ones((1, inputs)))
    expected = (inputs + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * outputs
    assert num_params(shapes["params"]) == expected


def test_mnist1d_reference_mlp_has_15210_parameters():
    # 40*100+100 + 100*100+100 + 100*10+10, the MNIST-1D authors' two-hidden-layer MLP.
    shapes = jax.eval_shape(models.get("mlp").init, jax.random.key(0), jnp.ones((1, 40)))
    assert num_params(shapes["params"]) == 15_210


@pytest.mark.parametrize("activation,np_fn", [
    ("relu", lambda z: np.maximum(z, 0)),
    ("tanh", np.tanh),
    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
])
def test_mlp_forward_equals_numpy(activation, np_fn):
    model = models.get("mlp", depth=2, width=16, num_outputs=3, activation=activation)
    x = np.random.default_rng(0).normal(size=(5, 2, 4)).astype(np.float32)  # flattened to 8 features
    params = model.init(jax.random.key(1), x)["params"]
    p = jax.tree.map(np.asarray, params)
    h = x.reshape(5, -1)
    for layer in ("hidden_0", "hidden_1"):
        h = np_fn(h @ p[layer]["kernel"] + p[layer]["bias"])
    expected = h @ p["output"]["kernel"] + p["output"]["bias"]
    np.testing.assert_allclose(model.apply({"params": params}, x), expected, rtol=1e-5, atol=1e-5)


def test_shallow_mlp_is_one_hidden_layer_of_sigmoids():
    model = models.get("shallow_mlp", width=8)
    params = model.init(jax.random.key(0), jnp.ones((1, 1)))["params"]
    assert set(params) == {"hidden_0", "output"}
    assert params["output"]["kernel"].shape == (8, 1)
    assert model.activation == "sigmoid"


def test_dropout_only_in_training():
    model = models.get("mlp", width=64, dropout_rate=0.5)
    x = jnp.ones((4, 10))
    params = model.init(jax.random.key(0), x)["params"]
    eval_a = model.apply({"params": params}, x)
    np.testing.assert_array_equal(eval_a, model.apply({"params": params}, x, train=False))
    train_a = model.apply({"params": params}, x, train=True, rngs={"dropout": jax.random.key(1)})
    train_b = model.apply({"params": params}, x, train=True, rngs={"dropout": jax.random.key(2)})
    assert not np.allclose(train_a, train_b)


def test_bfloat16_compute_keeps_float32_params():
    model = models.get("mlp", dtype="bfloat16")
    variables = model.init(jax.random.key(0), jnp.ones((2, 40)))
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(variables))
    assert model.apply(variables, jnp.ones((2, 40))).dtype == jnp.bfloat16


def test_batch_norm_option_keeps_running_statistics():
    model = models.get("mlp", width=8, batch_norm=True)
    variables = model.init(jax.random.key(0), jnp.ones((4, 3)))
    assert set(variables) == {"params", "batch_stats"}
    # BatchNorm statistics are state, not parameters; its bias replaces the Dense bias.
    assert num_params(variables["params"]) == 3 * 8 + 2 * 8 + 8 * 8 + 2 * 8 + (8 + 1) * 10
    assert num_params(variables["batch_stats"]) == 4 * 8

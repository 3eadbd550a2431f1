"""Every registered model: built by name, initialised and applied in train and eval mode.

Small models run for real; the ImageNet-sized ones are traced abstractly (jax.eval_shape), which checks
shapes and dtypes through every layer without the memory or the minutes.
"""
import jax
import jax.numpy as jnp
import pytest

from deepzoo import models


def _runs_for_real(name):  # the MNIST-sized ones and the small sequence models; the others are traced only
    # 12 s to compile the MNIST U-Net (the slow generative-samples test trains it), 14 s the 50-layer highway MLP
    # (highway_mnist runs), 16 s inception_v3_mnist (test_googlenet.py runs it); test_capsnet.py applies the
    # capsule networks.
    if name.startswith("unet_") or name in ("capsnet", "highway_mlp", "inception_v3_mnist"):
        return False
    return (name.endswith("_mnist") or name in ("char_rnn", "char_gru", "char_lstm") or
            models.input_shape_of(name) in ((40,), (1,), (28, 28, 1)))


PER_STEP = ("esn", "lsm", "ntm_copy", "dnc_copy", "lstm_copy", "gru_spikes")   # float sequences in, an output at every step


def _output_shape(name, model):
    """(batch, classes) for classifiers; (batch, length, vocabulary) for the sequence models; (batch,
    *output_shape) for models that say what they make (GAN generators)."""
    if hasattr(model, "output_shape"):
        return (2, *model.output_shape)
    inputs = models.example_inputs(name, 2)
    if name.endswith("_reward"):      # reward models: one scalar per sequence
        return (2,)
    if hasattr(model, "scale"):      # super-resolution: the input enlarged
        _, h, w, c = inputs[0].shape
        return (2, h * model.scale, w * model.scale, c)
    if name in PER_STEP:
        return (2, inputs[0].shape[1], model.num_outputs)
    if jnp.issubdtype(inputs[-1].dtype, jnp.integer):  # token ids last: the decoder's inputs
        return (2, inputs[-1].shape[1], model.vocab_size)
    return (2, getattr(model, "num_classes", None) or getattr(model, "num_actions", None)
            or getattr(model, "num_outputs"))


# The largest of their families, traced by their smaller siblings' code already: 10-20 s each, in the slow suite.
LARGEST = ("gpt2_xl", "gpt2_large", "swin_b", "vit_l16", "bert_large")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in LARGEST else n
                                  for n in models.names()])
def test_every_model_initialises_and_applies_in_train_and_eval_mode(name):
    model = models.get(name)
    # Ones: a valid input for images and token ids alike (id 1 is EOS, never padding).
    xs = tuple(jnp.ones(s.shape, s.dtype) for s in models.example_inputs(name, 2))
    key = jax.random.key(0, impl="rbg")  # compiles initialisers 4-5x faster than threefry on CPU
    real = _runs_for_real(name)
    init = jax.jit(lambda xs: model.init(key, *xs, train=False))
    variables = init(xs) if real else jax.eval_shape(init, xs)
    state = {k: v for k, v in variables.items() if k != "params"}

    def apply(variables, xs, train):
        if train:
            return model.apply(variables, *xs, train=True, rngs={"dropout": key}, mutable=list(state))
        return model.apply(variables, *xs, train=False), state

    for train in (False, True):
        run = jax.jit(apply, static_argnums=2)
        out, new_state = run(variables, xs, train) if real else jax.eval_shape(run, variables, xs, train)
        if isinstance(out, tuple):  # actor-critic: (action logits, values); a language policy: a value per position
            assert out[0].shape == _output_shape(name, model) and out[1].shape == out[0].shape[:-1], (name, train)
            out = out[0]
        elif isinstance(out, dict) and "projection" in out:  # SimCLR: the representation and its projection
            assert out["projection"].shape == (2, model.projection_dim), (name, train)
            assert out["embedding"].shape == (2, model.widths[-1]), (name, train)
            out = out["embedding"]
        elif isinstance(out, dict):  # autoencoders, VAE, flow, GAN: the input rebuilt (its code z, a sample), and more
            rebuilt = out.get("reconstruction", out.get("samples", out.get("logits", out.get("z"))))
            objects = getattr(model, "num_objects", 1)     # capsule networks rebuild each object alone
            objects *= getattr(model, "scale", 1) ** 2     # super-resolution enlarges it
            assert rebuilt.shape[0] == 2 and rebuilt.size == xs[0].size * objects and rebuilt.dtype == jnp.float32, (
                name, train)
            out = rebuilt
        else:
            assert out.shape == _output_shape(name, model) and out.dtype == jnp.float32, (name, train)
        # The mutable collections (BatchNorm statistics) come back with their shapes unchanged.
        assert jax.tree.map(jnp.shape, new_state) == jax.tree.map(jnp.shape, state)
        if real:
            assert bool(jnp.all(jnp.isfinite(out))), (name, train)


@pytest.mark.parametrize("name", [n for n in models.names()   # the digit classifiers
                                  if n.endswith("_mnist") and models.input_shape_of(n) == (28, 28, 1)
                                  and hasattr(models.get(n), "num_classes")])
def test_mnist_variants_compute_in_bfloat16_with_float32_parameters(name):
    model = models.get(name, dtype="bfloat16")
    x = jnp.ones((2, *models.input_shape_of(name)))
    variables = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
    out = jax.eval_shape(lambda v: model.apply(v, x, train=False), variables)
    assert {p.dtype for p in jax.tree.leaves(variables["params"])} == {jnp.dtype("float32")}
    assert out.shape == (2, 10) and out.dtype in (jnp.bfloat16, jnp.float32)


def test_every_family_registers_an_mnist_variant_small_enough_for_a_cpu():
    families = {"lenet", "alexnet", "vgg", "nin", "googlenet", "inception_v3", "resnet", "senet",
                "highway", "convnext", "vit", "swin"}
    for family in families:
        summary = models.summary(f"{family}_mnist", quiet=True)
        assert summary.input_shape == (28, 28, 1) and summary.output_shape == (10,)
        assert summary.macs <= 15e6 and summary.params <= 1.5e6, summary


@pytest.mark.parametrize("name", ["resnet_mnist", "vit_mnist", "lenet5"])
def test_wrong_channel_count_names_the_layer_and_the_expected_shape(name):
    model = models.get(name)
    shape = models.input_shape_of(name)
    variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.ones((1, *shape)), train=False))
    wrong = jnp.ones((1, *shape[:-1], shape[-1] + 2))
    with pytest.raises(Exception, match=r"(?s)(expects|expected).*(shape|channel)") as error:
        jax.eval_shape(lambda v: model.apply(v, wrong, train=False), variables)
    assert "/" in str(error.value) or "expects" in str(error.value)  # a layer path, or our own check


def test_unbatched_image_gets_a_hint():
    model = models.get("resnet_mnist")
    with pytest.raises(ValueError, match=r"add a batch axis"):
        model.init(jax.random.key(0), jnp.ones((28, 28, 1)))


def test_unknown_variant_lists_close_matches():
    with pytest.raises(KeyError, match=r"Did you mean 'resnet50'"):
        models.get("resnet05")

"""LeNet, AlexNet, VGG and NiN: exact parameter counts against the published ones, MACs measured from the
jaxpr, the MNIST variants actually run, and the errors a wrong input gets."""
import collections
import functools
import math

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo.analysis import complexity
from deepzoo.models import alexnet, lenet, nin, vgg

ALL = {**lenet.MODELS, **alexnet.MODELS, **vgg.MODELS, **nin.MODELS}
MNIST_VARIANTS = ["lenet5", "lenet_mnist", "alexnet_mnist", "vgg_mnist", "nin_mnist"]


def abstract_variables(model, shape):
    """Variables as ShapeDtypeStructs: counts and MACs without allocating 138M floats."""
    return jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, *shape)), train=False))


def n_params(tree):
    return sum(x.size for x in jax.tree.leaves(tree))


def macs_by_layer(model, shape):
    """Per-example MACs of each top-level layer (eval mode), measured by complexity.macs_by_scope."""
    variables = abstract_variables(model, shape)
    scopes = complexity.macs_by_scope(lambda v, x: model.apply(v, x, train=False), variables,
                                      jax.ShapeDtypeStruct((1, *shape), jnp.float32))
    layers = collections.Counter()
    for scope, macs in scopes.items():
        layers[scope.split("/")[1]] += macs  # "AlexNet/conv1/..." -> "conv1"
    return layers


def build(name, **kwargs):
    ctor, shape = ALL[name]
    return ctor(**kwargs), shape


@functools.cache
def initialised(name):
    """Real f32 variables of a registered model, made once (initialising costs seconds on 2 cores)."""
    model, shape = build(name)
    return model.init(jax.random.key(0), jnp.zeros((1, *shape)), train=False)


# ---------------------------------------------------------------------------------------------- LeNet

def test_lenet5_parameters_and_macs_per_layer():
    model, shape = build("lenet5")
    params = abstract_variables(model, shape)["params"]
    assert {k: n_params(v) for k, v in params.items()} == {
        "c1": 6 * 5 * 5 + 6, "c3": 16 * 6 * 5 * 5 + 16, "c5": 400 * 120 + 120, "f6": 120 * 84 + 84,
        "output": 84 * 10 + 10}
    assert n_params(params) == 61_706
    # d2l.ai's complexity table says 0.6M parameters and 4M FLOP (conv1 1.2M, conv2 2.4M): about ten times
    # what the network has; the figures below are what it computes.
    assert macs_by_layer(model, shape) == {"c1": 117_600, "c3": 240_000, "c5": 48_000, "f6": 10_080, "output": 840}
    assert sum(macs_by_layer(model, shape).values()) == 416_520


def test_lenet_mnist_is_lenet5_modernised():
    sigmoid, shape = build("lenet5")
    relu, _ = build("lenet_mnist")
    assert (sigmoid.activation, sigmoid.pooling) == ("sigmoid", "avg")
    assert (relu.activation, relu.pooling) == ("relu", "max")
    assert n_params(abstract_variables(relu, shape)) == 61_706


@pytest.mark.parametrize("bad_shape, words", [((32, 32, 1), "28x28"), ((28, 28, 3), "1 input channel")])
def test_lenet_says_which_input_it_takes(bad_shape, words):
    model, shape = build("lenet5")
    variables = initialised("lenet5")
    with pytest.raises(ValueError, match=words):
        model.apply(variables, jnp.zeros((2, *bad_shape)))
    with pytest.raises(ValueError, match=words):  # init too: a 32x32 LeNet would silently be another net
        model.init(jax.random.key(0), jnp.zeros((1, *bad_shape)))


# --------------------------------------------------------------------------------------------- AlexNet

def test_alexnet_torchvision_parameters():
    model, shape = build("alexnet")
    assert shape == (224, 224, 3)
    params = abstract_variables(model, shape)["params"]
    assert n_params(params) == 61_100_840
    assert params["fc6"]["kernel"].shape == (256 * 6 * 6, 4096)


def test_alexnet_adaptive_pool_accepts_other_sizes():
    model, _ = build("alexnet")
    params = abstract_variables(model, (256, 256, 3))["params"]  # 7x7 maps pooled to 6x6
    assert n_params(params) == 61_100_840


def test_alexnet_d2l_complexity_table():
    """d2l.ai's complexity table (AlexNet column): weights are kernels without biases, the output layer left out,
    "FLOP" are multiply-accumulates on one 224x224x3 image. Each figure is printed to 2-3 digits, so the
    measured number must lie within one unit of the table's last digit."""
    model, shape = build("alexnet_d2l")
    params = abstract_variables(model, shape)["params"]
    weights = {k: v["kernel"].size for k, v in params.items()}
    macs = macs_by_layer(model, shape)
    groups = {"Conv1": ["conv1"], "Conv2": ["conv2"], "Conv3-5": ["conv3", "conv4", "conv5"],
              "Dense1": ["fc6"], "Dense2": ["fc7"]}
    measured_weights = {g: sum(weights[k] for k in ks) for g, ks in groups.items()}
    measured_macs = {g: sum(macs[k] for k in ks) for g, ks in groups.items()}
    assert measured_weights == {"Conv1": 34_848, "Conv2": 614_400, "Conv3-5": 3_096_576,
                                "Dense1": 26_214_400, "Dense2": 16_777_216}
    assert measured_macs == {"Conv1": 101_616_768, "Conv2": 415_334_400, "Conv3-5": 445_906_944,
                             "Dense1": 26_214_400, "Dense2": 16_777_216}
    total_weights, total_macs = sum(measured_weights.values()), sum(measured_macs.values())
    assert (total_weights, total_macs) == (46_737_440, 1_005_849_728)
    assert total_macs == sum(macs.values()) - macs["fc8"]  # the groups are everything but the output layer

    K, M, G = 1e3, 1e6, 1e9
    table = {  # (figure, unit of its last digit)
        "Conv1": ((35 * K, K), (101 * M, M)), "Conv2": ((614 * K, K), (415 * M, M)),
        "Conv3-5": ((3 * M, M), (445 * M, M)), "Dense1": ((26 * M, M), (26 * M, M)),
        "Dense2": ((16 * M, M), (16 * M, M))}
    for group, ((w, w_unit), (f, f_unit)) in table.items():
        assert abs(measured_weights[group] - w) < w_unit, group
        assert abs(measured_macs[group] - f) < f_unit, group
    assert abs(total_weights - 46.7 * M) < 0.1 * M
    assert abs(total_macs - 1.0 * G) < 0.1 * G


def test_alexnet_d2l_layout():
    model, shape = build("alexnet_d2l")
    params = abstract_variables(model, shape)["params"]
    assert [params[f"conv{i}"]["kernel"].shape[-1] for i in range(1, 6)] == [96, 256, 384, 384, 256]
    assert params["fc6"]["kernel"].shape == (5 * 5 * 256, 4096)  # 224 -> 54 -> 26 -> 12 -> 5, no adaptive pool
    assert n_params(params) == 46_737_440 + 4096 * 1000 + (96 + 256 + 384 + 384 + 256 + 4096 + 4096 + 1000)


@pytest.mark.parametrize("size, out", [(6, 6), (13, 6), (5, 3), (7, 6), (2, 7), (1, 7)])
def test_adaptive_avg_pool_matches_pytorch_rule(size, out):
    x = np.random.default_rng(0).normal(size=(2, size, size + 1, 3)).astype(np.float32)
    got = alexnet.adaptive_avg_pool(jnp.asarray(x), (out, out))
    expect = np.zeros((2, out, out, 3), np.float32)
    for i in range(out):
        for j in range(out):
            h0, h1 = math.floor(i * size / out), math.ceil((i + 1) * size / out)
            w0, w1 = math.floor(j * (size + 1) / out), math.ceil((j + 1) * (size + 1) / out)
            expect[:, i, j] = x[:, h0:h1, w0:w1].mean(axis=(1, 2))
    np.testing.assert_allclose(got, expect, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------------------- VGG

VGG_COUNTS = {  # torchvision's models, their published parameter counts, and MACs (torchvision's "GFLOPS")
    "vgg11": (132_863_336, 132_868_840, 7.61e9),
    "vgg13": (133_047_848, 133_053_736, 11.31e9),
    "vgg16": (138_357_544, 138_365_992, 15.47e9),
    "vgg19": (143_667_240, 143_678_248, 19.63e9),
}


@pytest.mark.parametrize("name", VGG_COUNTS)
def test_vgg_parameters_with_and_without_batch_norm(name):
    plain, with_bn, _ = VGG_COUNTS[name]
    model, shape = build(name)
    assert n_params(abstract_variables(model, shape)["params"]) == plain
    variables = abstract_variables(build(name + "_bn")[0], shape)
    assert n_params(variables["params"]) == with_bn
    # BatchNorm's scale and bias are parameters; its running mean and variance are state, not parameters.
    assert n_params(variables["batch_stats"]) == with_bn - plain


@pytest.mark.parametrize("name", VGG_COUNTS)
def test_vgg_macs(name):
    model, shape = build(name)
    macs = sum(macs_by_layer(model, shape).values())
    assert abs(macs - VGG_COUNTS[name][2]) < 0.005e9
    assert macs_by_layer(model, shape)["fc6"] == 512 * 7 * 7 * 4096


def test_vgg_paper_names_are_torchvision_ones():
    assert (vgg.VGG_A, vgg.VGG_B, vgg.VGG_D, vgg.VGG_E) == (vgg.VGG11, vgg.VGG13, vgg.VGG16, vgg.VGG19)
    for letter, name in zip("abde", ["vgg11", "vgg13", "vgg16", "vgg19"]):
        assert ALL[f"vgg_{letter}"][0].keywords == ALL[name][0].keywords


def test_vgg_a_lrn_has_the_parameters_of_a():
    shape = (224, 224, 3)
    a = abstract_variables(build("vgg_a")[0], shape)["params"]
    a_lrn = abstract_variables(build("vgg_a_lrn")[0], shape)["params"]
    assert jax.tree.map(lambda x: x.shape, a) == jax.tree.map(lambda x: x.shape, a_lrn)
    assert n_params(a_lrn) == 132_863_336


def test_vgg_c_parameters_from_the_table():
    # Configuration C, column by column: (kernel, in, out); conv1-256/512 are the 1x1 convolutions.
    convs = [(3, 3, 64), (3, 64, 64), (3, 64, 128), (3, 128, 128),
             (3, 128, 256), (3, 256, 256), (1, 256, 256),
             (3, 256, 512), (3, 512, 512), (1, 512, 512),
             (3, 512, 512), (3, 512, 512), (1, 512, 512)]
    dense = [(512 * 7 * 7, 4096), (4096, 4096), (4096, 1000)]
    expected = sum(k * k * i * o + o for k, i, o in convs) + sum(i * o + o for i, o in dense)
    params = abstract_variables(build("vgg_c")[0], (224, 224, 3))["params"]
    assert n_params(params) == expected == 133_638_952  # the paper's Table 2: 134M
    assert params["conv3_3"]["kernel"].shape == (1, 1, 256, 256)


def test_local_response_norm_is_krizhevskys_formula():
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 9)).astype(np.float32) * 30
    n, k, alpha, beta = 5, 2.0, 1e-4, 0.75
    expect = np.empty_like(x)
    for c in range(x.shape[-1]):
        lo, hi = max(0, c - n // 2), min(x.shape[-1] - 1, c + n // 2)
        expect[..., c] = x[..., c] / (k + alpha * (x[..., lo:hi + 1] ** 2).sum(-1)) ** beta
    np.testing.assert_allclose(vgg.local_response_norm(jnp.asarray(x)), expect, rtol=1e-5)


@pytest.mark.slow   # ~11 s
def test_vgg_lrn_1x1_and_batch_norm_run():
    # A-LRN's and C's layers on a tiny input: LRN, 1x1 convolutions, BatchNorm in train mode, and the
    # adaptive pool replicating a 1x1 map to 7x7 (torchvision does the same for small images).
    model = vgg.VGG(num_classes=5, config=("conv3-8", "LRN", "maxpool", "conv3-8", "conv1-8", "maxpool",
                                           "maxpool", "maxpool", "maxpool"), batch_norm=True, hidden=16)
    x = jax.random.normal(jax.random.key(1), (2, 32, 32, 3))
    variables = model.init(jax.random.key(0), x)
    assert variables["params"]["fc6"]["kernel"].shape == (8 * 7 * 7, 16)
    logits, updates = model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(2)},
                                  mutable=["batch_stats"])
    assert logits.shape == (2, 5) and bool(jnp.isfinite(logits).all())
    before, after = variables["batch_stats"]["conv2_2_bn"]["mean"], updates["batch_stats"]["conv2_2_bn"]["mean"]
    assert not np.allclose(before, after)  # running statistics moved


# ------------------------------------------------------------------------------------------------- NiN

def test_nin_parameters_per_block():
    model, shape = build("nin", num_classes=10)
    assert shape == (224, 224, 1)
    params = abstract_variables(model, shape)["params"]

    def block(c_in, c, k):
        return (k * k * c_in * c + c) + 2 * (c * c + c)

    assert {k: n_params(v) for k, v in params.items()} == {
        "block1": block(1, 96, 11), "block2": block(96, 256, 5), "block3": block(256, 384, 3),
        "head": block(384, 10, 3)}
    assert n_params(params) == 1_992_166
    assert sum(macs_by_layer(model, shape).values()) == 762_297_352
    assert build("nin")[0].num_classes == 1000  # the zoo's default; d2l's count is for 10 classes


def test_nin_mnist_has_the_papers_wide_head():
    model, shape = build("nin_mnist")
    head = abstract_variables(model, shape)["params"]["head"]
    assert [head[k]["kernel"].shape for k in ("conv", "mlp1", "mlp2")] == [(3, 3, 96, 96), (1, 1, 96, 96),
                                                                          (1, 1, 96, 10)]


# ----------------------------------------------------------------------------- MNIST-sized variants

@pytest.mark.parametrize("name", MNIST_VARIANTS)
def test_mnist_variant_is_small(name):
    model, shape = build(name)
    assert shape == (28, 28, 1) and model.num_classes == 10
    assert n_params(abstract_variables(model, shape)["params"]) < 1_000_000
    assert sum(macs_by_layer(model, shape).values()) <= 10_000_000


# alexnet_mnist, vgg_mnist and nin_mnist take 13-18 s each here; test_model_zoo runs them in both modes, and in
# bfloat16 abstractly, in the default suite
SLOW_MNIST = [pytest.param(n, marks=pytest.mark.slow) if n in ("alexnet_mnist", "vgg_mnist", "nin_mnist") else n
              for n in MNIST_VARIANTS]


@pytest.mark.parametrize("name", SLOW_MNIST)
def test_mnist_variant_runs_in_train_and_eval_mode(name):
    model, shape = build(name)
    x = jax.random.uniform(jax.random.key(1), (4, *shape))
    variables = initialised(name)
    logits = model.apply(variables, x, train=False)
    assert logits.shape == (4, 10) and logits.dtype == jnp.float32
    train_logits, _ = model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(2)},
                                  mutable=["batch_stats"])
    assert train_logits.shape == (4, 10) and train_logits.dtype == jnp.float32
    assert bool(jnp.isfinite(logits).all() & jnp.isfinite(train_logits).all())
    if name not in ("lenet5", "lenet_mnist"):  # dropout is on in train mode only
        assert not np.allclose(logits, train_logits)
        np.testing.assert_array_equal(logits, model.apply(variables, x, train=False))


@pytest.mark.parametrize("name", SLOW_MNIST)
def test_mnist_variant_bfloat16_compute(name):
    model, shape = build(name, dtype=jnp.bfloat16)
    x = jax.random.uniform(jax.random.key(1), (2, *shape))
    params = abstract_variables(model, shape)["params"]
    assert {p.dtype for p in jax.tree.leaves(params)} == {jnp.dtype(jnp.float32)}  # f32 master weights
    variables = initialised(name)  # the same f32 variables serve the bf16-compute model
    logits = model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(2)}, mutable=["batch_stats"])[0]
    assert logits.shape == (2, 10) and logits.dtype in (jnp.bfloat16, jnp.float32)
    assert bool(jnp.isfinite(logits.astype(jnp.float32)).all())


@pytest.mark.parametrize("name, layer", [("alexnet_mnist", "conv1"), ("vgg_mnist", "conv1_1"),
                                         ("nin_mnist", "block1/conv")])
def test_wrong_channel_count_names_the_layer(name, layer):
    model, _ = build(name)
    variables = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 3)))
    with pytest.raises(flax.errors.ScopeParamShapeError, match=f"/{layer}") as error:
        model.apply(variables, jnp.zeros((1, 28, 28, 1)))
    assert "3" in str(error.value)  # the kernel shape it expected, with its 3 input channels

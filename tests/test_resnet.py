"""ResNet, SE-ResNet and highway networks: published parameter counts and MACs, NumPy references of the
SE block and the highway layer, and the carry behaviour of a deep highway stack at initialisation."""
import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import models
from deepzoo.analysis import complexity
from deepzoo.models import highway, resnet, senet

MNIST_VARIANTS = ["resnet_mnist", "senet_mnist", "highway_mnist", "highway_mlp"]


def key(seed):
    # RBG keys: XLA:CPU compiles threefry's random-bit generation slowly (a 20-layer init took 16-19 s
    # under load here, 4 s with RBG); the tests check shapes and formulas, not the random stream.
    return jax.random.key(seed, impl="rbg")


def abstract_variables(model, shape):
    return jax.eval_shape(lambda: model.init(key(0), jnp.zeros((1, *shape)), train=False))


def num_params(tree):
    return sum(x.size for x in jax.tree.leaves(tree))


def macs_of(model, shape):
    variables = abstract_variables(model, shape)
    return complexity.count_macs(lambda v, x: model.apply(v, x, train=False), variables, jnp.zeros((1, *shape)))


# --- ResNet --------------------------------------------------------------------------------------------

# Parameters: torchvision's resnet* (BatchNorm scale and bias are parameters, running statistics are not).
# MACs: torchvision's published GFLOPS column, which counts multiply-accumulates at 224x224.
@pytest.mark.parametrize("name,params,gmacs", [
    ("resnet18", 11_689_512, 1.814),
    ("resnet34", 21_797_672, 3.664),
    ("resnet50", 25_557_032, 4.089),
    ("resnet101", 44_549_160, 7.801),
    ("resnet152", 60_192_808, 11.514),
])
def test_resnet_parameters_and_macs_match_published(name, params, gmacs):
    model, shape = models.get(name), models.input_shape_of(name)
    assert shape == (224, 224, 3)
    assert num_params(abstract_variables(model, shape)["params"]) == params
    assert macs_of(model, shape) == pytest.approx(gmacs * 1e9, rel=0.01)


@pytest.mark.parametrize("name,layers", [
    # Per-layer counts of torchvision's models (conv1, bn1, layer1..layer4, fc).
    ("resnet18", {"conv1": 9_408, "bn1": 128, "stage1": 147_968, "stage2": 525_568, "stage3": 2_099_712,
                  "stage4": 8_393_728, "fc": 513_000}),
    ("resnet50", {"conv1": 9_408, "bn1": 128, "stage1": 215_808, "stage2": 1_219_584, "stage3": 7_098_368,
                  "stage4": 14_964_736, "fc": 2_049_000}),
])
def test_resnet_per_stage_parameter_counts(name, layers):
    params = abstract_variables(models.get(name), (224, 224, 3))["params"]
    counts = {}
    for layer, tree in params.items():
        key = layer.split("_")[0]  # stage2_block1 -> stage2
        counts[key] = counts.get(key, 0) + num_params(tree)
    assert counts == layers


def test_bottleneck_block_parameters_and_v1_5_stride_on_the_3x3():
    # ResNet-50's first stage-2 block, 256 -> 512 channels: 1x1 128, 3x3 128 (stride 2), 1x1 512, projection.
    params = abstract_variables(models.get("resnet50"), (224, 224, 3))["params"]["stage2_block1"]
    assert num_params(params) == (256 * 128 + 2 * 128) + (9 * 128 * 128 + 2 * 128) + (128 * 512 + 2 * 512) \
        + (256 * 512 + 2 * 512)
    block = resnet.Bottleneck(filters=128, strides=2)
    x = jnp.zeros((1, 56, 56, 256))
    _, state = jax.eval_shape(lambda: block.init_with_output(key(0), x, capture_intermediates=True))
    inter = state["intermediates"]
    assert inter["conv1"]["__call__"][0].shape == (1, 56, 56, 128)  # the 1x1 does not stride (v1.5)
    assert inter["conv2"]["__call__"][0].shape == (1, 28, 28, 128)  # the 3x3 does
    assert inter["__call__"][0].shape == (1, 28, 28, 512)


def test_resnet_stage_resolutions_at_224():
    model = models.get("resnet18")
    _, state = jax.eval_shape(lambda: model.init_with_output(
        key(0), jnp.zeros((1, 224, 224, 3)), capture_intermediates=True))
    inter = state["intermediates"]
    assert inter["conv1"]["__call__"][0].shape == (1, 112, 112, 64)
    for stage, size, width in [(1, 56, 64), (2, 28, 128), (3, 14, 256), (4, 7, 512)]:
        assert inter[f"stage{stage}_block2"]["__call__"][0].shape == (1, size, size, width)


def test_conv_init_is_he_normal_fan_out_without_bias():
    block = resnet.Bottleneck(filters=64)
    params = block.init(key(0), jnp.zeros((1, 8, 8, 256)))["params"]
    assert "bias" not in params["conv2"]  # BatchNorm supplies the shift
    kernel = np.asarray(params["conv2"]["kernel"])  # 3x3x64x64: fan_out = 9 * 64
    assert kernel.std() == pytest.approx(np.sqrt(2.0 / (9 * 64)), rel=0.05)
    assert abs(kernel.mean()) < 0.01


@pytest.mark.parametrize("block,out", [(resnet.BasicBlock, 16), (resnet.Bottleneck, 64)])
def test_zero_init_residual_makes_each_block_the_identity(block, out):
    module = block(filters=16, zero_init_residual=True)
    x = jax.random.uniform(key(1), (2, 8, 8, out))  # non-negative, like a ReLU output
    variables = module.init(key(0), x)
    last_bn = "bn2" if block is resnet.BasicBlock else "bn3"
    np.testing.assert_array_equal(variables["params"][last_bn]["scale"], 0.0)
    np.testing.assert_allclose(module.apply(variables, x), x, atol=1e-6)
    # Without the option the branch contributes.
    plain = block(filters=16)
    assert not np.allclose(plain.apply(plain.init(key(0), x), x), x, atol=1e-3)


def test_resnet_batch_stats_are_state_not_parameters():
    variables = abstract_variables(models.get("resnet_mnist"), (28, 28, 1))
    stats = variables["batch_stats"]["stage1_block1"]["bn1"]
    assert set(stats) == {"mean", "var"}
    assert set(variables["params"]["stage1_block1"]["bn1"]) == {"scale", "bias"}


def test_unknown_stem_is_named():
    model = resnet.ResNet(stage_sizes=(1,), block=resnet.BasicBlock, stem="tiny")
    with pytest.raises(ValueError, match="unknown stem 'tiny'.*'imagenet' or 'cifar'"):
        model.init(key(0), jnp.zeros((1, 8, 8, 3)))


# --- Squeeze-and-excitation ----------------------------------------------------------------------------

def test_squeeze_excite_equals_numpy():
    se = senet.SqueezeExcite(reduction=4)
    x = np.random.default_rng(0).normal(size=(3, 5, 6, 16)).astype(np.float32)
    params = jax.tree.map(np.asarray, se.init(key(0), x)["params"])
    assert params["reduce"]["kernel"].shape == (16, 4) and params["expand"]["kernel"].shape == (4, 16)
    s = x.mean(axis=(1, 2))
    s = np.maximum(s @ params["reduce"]["kernel"] + params["reduce"]["bias"], 0)
    s = 1 / (1 + np.exp(-(s @ params["expand"]["kernel"] + params["expand"]["bias"])))
    np.testing.assert_allclose(se.apply({"params": params}, x), x * s[:, None, None, :], rtol=1e-5, atol=1e-6)


def test_se_resnet50_parameters_and_macs():
    model = models.get("se_resnet50")
    params = abstract_variables(model, (224, 224, 3))["params"]
    assert num_params(params) == 28_088_024  # Hu et al.: 28.1M
    # One SE block per bottleneck, on C = 4 * width channels: 2 C^2 / 16 weights + C / 16 + C biases.
    blocks = [(3, 256), (4, 512), (6, 1024), (3, 2048)]
    assert num_params(params) - 25_557_032 == sum(n * (2 * c * c // 16 + c // 16 + c) for n, c in blocks)
    se = params["stage3_block1"]["se"]
    assert se["reduce"]["kernel"].shape == (1024, 64) and se["expand"]["kernel"].shape == (64, 1024)
    # The SE blocks' FC layers add only their 2 C^2 / r MACs (about 0.06%) to ResNet-50's 4.09 G.
    extra = macs_of(model, (224, 224, 3)) - macs_of(models.get("resnet50"), (224, 224, 3))
    assert extra == sum(n * 2 * c * c // 16 for n, c in blocks)


def test_se_block_rescales_the_residual_branch_before_the_addition():
    # With the SE gates forced to 0 (expand bias -inf-ish), the block outputs relu(shortcut) = x.
    block = resnet.BasicBlock(filters=8, squeeze_excite=lambda **kw: senet.SqueezeExcite(reduction=4, **kw))
    x = jax.random.uniform(key(1), (2, 6, 6, 8))
    variables = flax.core.unfreeze(block.init(key(0), x))
    variables["params"]["se"]["expand"]["bias"] = jnp.full((8,), -1e4)
    np.testing.assert_allclose(block.apply(variables, x), x, atol=1e-6)


# --- Highway networks ----------------------------------------------------------------------------------

def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_highway_dense_equals_numpy_formula():
    layer = highway.HighwayDense()
    x = np.random.default_rng(0).normal(size=(4, 12)).astype(np.float32)
    p = jax.tree.map(np.asarray, layer.init(key(0), x)["params"])
    np.testing.assert_array_equal(p["gate"]["bias"], -3.0)  # negative: biased towards carrying x
    h = np.maximum(x @ p["transform"]["kernel"] + p["transform"]["bias"], 0)
    t = sigmoid(x @ p["gate"]["kernel"] + p["gate"]["bias"])
    np.testing.assert_allclose(layer.apply({"params": p}, x), h * t + x * (1 - t), rtol=1e-5, atol=1e-6)


def conv3x3_same_numpy(x, kernel, bias):
    n, hgt, wid, _ = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((n, hgt, wid, kernel.shape[-1]), np.float64) + bias
    for i in range(3):
        for j in range(3):
            out += padded[:, i:i + hgt, j:j + wid, :] @ kernel[i, j]
    return out


def test_highway_conv_equals_numpy_formula():
    layer = highway.HighwayConv(gate_bias=-1.0)
    x = np.random.default_rng(0).normal(size=(2, 5, 7, 6)).astype(np.float32)
    p = jax.tree.map(np.asarray, layer.init(key(0), x)["params"])
    np.testing.assert_array_equal(p["gate"]["bias"], -1.0)
    h = np.maximum(conv3x3_same_numpy(x, p["transform"]["kernel"], p["transform"]["bias"]), 0)
    t = sigmoid(conv3x3_same_numpy(x, p["gate"]["kernel"], p["gate"]["bias"]))
    np.testing.assert_allclose(layer.apply({"params": p}, x), h * t + x * (1 - t), rtol=1e-4, atol=1e-5)


class PlainStack(nn.Module):
    """The paper's plain baseline: Dense + ReLU layers, He-normal initialised."""
    depth: int
    width: int

    @nn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(self.width, kernel_init=nn.initializers.he_normal())(x))
        return x


class HighwayStack(nn.Module):
    depth: int
    gate_bias: float = highway.GATE_BIAS

    @nn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            x = highway.HighwayDense(self.gate_bias)(x)
        return x


def centred_cosine(a, b):
    """Mean cosine between input and output rows after removing each feature's batch mean."""
    a, b = np.asarray(a) - np.mean(a, 0), np.asarray(b) - np.mean(b, 0)
    return float(np.mean(np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)))


def test_deep_highway_stack_carries_its_input_at_init_while_a_plain_one_does_not():
    # 50 layers, the paper's thin widths: 50 units per highway layer, 71 per plain layer (Section 3.1).
    x50 = jax.nn.relu(jax.random.normal(key(1), (256, 50)))   # a ReLU layer's output
    x71 = jax.nn.relu(jax.random.normal(key(1), (256, 71)))
    hw, plain = HighwayStack(depth=50), PlainStack(depth=50, width=71)
    y_hw = hw.apply(hw.init(key(0), x50), x50)
    y_plain = plain.apply(plain.init(key(0), x71), x71)
    # Gates start near sigmoid(-3) = 0.05: each layer is nearly the identity and after 50 of them the
    # output still points where the input did (its scale shrinks), so every example stays recognisable.
    assert centred_cosine(x50, y_hw) > 0.9
    # A plain deep net at init keeps no trace of its input's direction ...
    assert abs(centred_cosine(x71, y_plain)) < 0.2
    # ... and with the gates open (bias 0) the highway stack forgets it too: the carry comes from the bias.
    open_gates = HighwayStack(depth=50, gate_bias=0.0)
    assert centred_cosine(x50, open_gates.apply(open_gates.init(key(0), x50), x50)) < 0.5


def test_highway_mlp_parameter_count_closed_form():
    model = models.get("highway_mlp")
    params = abstract_variables(model, (28, 28, 1))["params"]
    width, depth = 50, 49
    assert num_params(params) == (784 * width + width) + depth * 2 * (width * width + width) + (width * 10 + 10)
    assert len([k for k in params if k.startswith("highway")]) == depth


def test_highway_cnn_parameter_count_closed_form():
    params = abstract_variables(models.get("highway_cnn"), (32, 32, 3))["params"]
    expected, c_in = 0, 3
    for width in (32, 80, 128):
        expected += 9 * c_in * width + width                 # the plain conv that sets the width
        expected += 5 * 2 * (9 * width * width + width)      # five highway layers: H and T convs
        c_in = width
    expected += 128 * 10 + 10
    assert num_params(params) == expected == 2_262_714
    assert params["stage2_highway3"]["gate"]["kernel"].shape == (3, 3, 80, 80)


# --- MNIST variants, dtypes and bad inputs ---------------------------------------------------------------

@pytest.mark.parametrize("name", MNIST_VARIANTS)
def test_mnist_variants_are_small(name):
    model, shape = models.get(name), models.input_shape_of(name)
    assert shape == (28, 28, 1)
    assert num_params(abstract_variables(model, shape)["params"]) < 1_000_000
    assert macs_of(model, shape) <= 10_000_000


@pytest.mark.parametrize("name", MNIST_VARIANTS)
def test_mnist_variants_run_in_train_and_eval(name):
    model = models.get(name)
    x = jax.random.normal(key(1), (3, 28, 28, 1))
    variables = model.init(key(0), x)
    logits = model.apply(variables, x, train=False)
    assert logits.shape == (3, 10) and logits.dtype == jnp.float32
    assert np.all(np.isfinite(logits))
    out, updates = model.apply(variables, x, train=True, rngs={"dropout": key(2)},
                               mutable=["batch_stats"])
    assert out.shape == (3, 10) and out.dtype == jnp.float32
    if "batch_stats" in variables:  # the ResNets update their running statistics in training
        before = variables["batch_stats"]["bn1"]["mean"]
        assert not np.allclose(updates["batch_stats"]["bn1"]["mean"], before)


@pytest.mark.parametrize("name", MNIST_VARIANTS)
def test_bfloat16_compute(name):
    model = models.get(name, dtype="bfloat16")
    x = jnp.ones((2, 28, 28, 1))
    variables = model.init(key(0), x)
    assert {leaf.dtype for leaf in jax.tree.leaves(variables["params"])} == {jnp.dtype(jnp.float32)}
    logits = model.apply(variables, x)
    assert logits.shape == (2, 10) and logits.dtype in (jnp.bfloat16, jnp.float32)


@pytest.mark.parametrize("name,layer", [("resnet_mnist", "conv1"), ("senet_mnist", "conv1"),
                                        ("highway_mnist", "stage1_conv"), ("highway_mlp", "projection")])
def test_wrong_channel_count_names_the_layer(name, layer):
    model = models.get(name)
    variables = model.init(key(0), jnp.zeros((1, 28, 28, 3)))
    with pytest.raises(flax.errors.ScopeParamShapeError, match=f"/{layer}"):
        model.apply(variables, jnp.zeros((1, 28, 28, 1)))

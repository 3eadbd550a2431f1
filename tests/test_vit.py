"""The shared attention layer against NumPy, and ViT, ConvNeXt and Swin against their published sizes."""
import functools
import math

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo.layers import attention
from deepzoo.analysis import complexity
from deepzoo.models import convnext, swin, vit


def num_params(tree):
    return sum(x.size for x in jax.tree.leaves(tree))


def init(module, *inputs, **kwargs):
    """module.init, jitted: one compilation instead of one per parameter shape (seconds on 2 cores)."""
    return jax.jit(functools.partial(module.init, **kwargs))(jax.random.key(0), *inputs)


def train_fn(module):
    """(variables, x, seed) -> module output in train mode, jitted (eager ops compile one by one)."""
    return jax.jit(lambda v, x, seed: module.apply(v, x, train=True, rngs={"dropout": jax.random.key(seed)}))


def abstract_variables(model, shape):
    return jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, *shape)), train=False))


def params_of(name, family):
    ctor, shape = family.MODELS[name]
    return abstract_variables(ctor(), shape)["params"]


def macs_of(name, family):
    ctor, shape = family.MODELS[name]
    model = ctor()
    return complexity.count_macs(lambda v, x: model.apply(v, x, train=False), abstract_variables(model, shape),
                                 jnp.zeros((1, *shape)))


# ---------------------------------------------------------------- NumPy references

def np_attention(q, k, v, mask=None, bias=None):
    """softmax(q k^T / sqrt(d) + bias) v per batch and head; q (b, q, h, d), k and v (b, k, h, d)."""
    logits = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(q.shape[-1])
    if bias is not None:
        logits = logits + bias
    if mask is not None:
        logits = np.where(mask, logits, -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return np.einsum("bhqk,bkhd->bqhd", weights, v)


def np_mha(p, x_q, x_kv, mask=None):
    """The module's computation, from its own parameters: project, attend per head, project back."""
    q = np.einsum("bld,dhk->blhk", x_q, p["query"]["kernel"]) + p["query"]["bias"]
    k = np.einsum("bld,dhk->blhk", x_kv, p["key"]["kernel"]) + p["key"]["bias"]
    v = np.einsum("bld,dhk->blhk", x_kv, p["value"]["kernel"]) + p["value"]["bias"]
    y = np_attention(q, k, v, mask)
    return np.einsum("blhk,hkd->bld", y, p["out"]["kernel"]) + p["out"]["bias"]


def np_layer_norm(x, p, eps):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * p["scale"] + p["bias"]


np_erf = np.vectorize(math.erf)


def np_gelu(x):
    return 0.5 * x * (1 + np_erf(x / np.sqrt(2)))


def np_mlp(p, x):
    h = np_gelu(x @ p["fc1"]["kernel"] + p["fc1"]["bias"])
    return h @ p["fc2"]["kernel"] + p["fc2"]["bias"]


def random(shape, seed):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# ---------------------------------------------------------------- attention

def test_attention_equals_numpy_softmax_qkt_v():
    q, k, v = random((2, 5, 3, 4), 0), random((2, 7, 3, 4), 1), random((2, 7, 3, 6), 2)
    out = attention.dot_product_attention(q, k, v)
    assert out.shape == (2, 5, 3, 6)
    np.testing.assert_allclose(out, np_attention(q, k, v), rtol=1e-5, atol=1e-5)


def test_attention_with_causal_mask_sees_only_the_past():
    q, k, v = random((2, 6, 2, 4), 0), random((2, 6, 2, 4), 1), random((2, 6, 2, 4), 2)
    mask = attention.causal_mask(6)
    np.testing.assert_array_equal(mask, np.tril(np.ones((6, 6), bool)))
    out = attention.dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_allclose(out, np_attention(q, k, v, mask=np.tril(np.ones((6, 6), bool))), rtol=1e-5,
                               atol=1e-5)
    # Changing the future does not change the past.
    v2 = v.copy()
    v2[:, 4:] += 10.0
    out2 = attention.dot_product_attention(q, k, v2, mask=mask)
    np.testing.assert_allclose(out2[:, :4], out[:, :4], rtol=1e-6, atol=1e-6)
    # With fewer queries than keys (decoding with a cache), the last query is aligned with the last key.
    np.testing.assert_array_equal(attention.causal_mask(2, 4), [[1, 1, 1, 0], [1, 1, 1, 1]])


def test_attention_with_padding_mask_ignores_pad_keys():
    q, k, v = random((2, 4, 2, 3), 0), random((2, 5, 2, 3), 1), random((2, 5, 2, 3), 2)
    valid = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    mask = attention.padding_mask(valid)
    assert mask.shape == (2, 1, 1, 5)
    out = attention.dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_allclose(out, np_attention(q, k, v, mask=valid[:, None, None, :]), rtol=1e-5, atol=1e-5)
    # The first sequence equals attention over its three real tokens alone.
    np.testing.assert_allclose(out[:1], np_attention(q[:1], k[:1, :3], v[:1, :3]), rtol=1e-5, atol=1e-5)


def test_attention_adds_bias_and_combines_it_with_a_mask():
    q, k, v = random((1, 4, 2, 3), 0), random((1, 4, 2, 3), 1), random((1, 4, 2, 3), 2)
    bias = random((2, 4, 4), 3)  # per head, as Swin's relative position bias
    mask = np.tril(np.ones((4, 4), bool))
    out = attention.dot_product_attention(q, k, v, bias=bias, mask=mask)
    np.testing.assert_allclose(out, np_attention(q, k, v, mask=mask, bias=bias), rtol=1e-5, atol=1e-5)


def test_fully_masked_query_gives_finite_output():
    q, k, v = random((1, 2, 1, 3), 0), random((1, 3, 1, 3), 1), random((1, 3, 1, 3), 2)
    out = attention.dot_product_attention(q, k, v, mask=np.zeros((1, 1, 2, 3), bool))
    assert np.isfinite(np.asarray(out)).all()


def test_attention_weights_are_float32_for_bfloat16_inputs_and_sum_to_one():
    q, k = (jnp.asarray(random((2, 5, 3, 8), s), jnp.bfloat16) for s in (0, 1))
    weights = attention.attention_weights(q, k)
    assert weights.dtype == jnp.float32 and weights.shape == (2, 3, 5, 5)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    v = jnp.asarray(random((2, 5, 3, 8), 2), jnp.bfloat16)
    assert attention.dot_product_attention(q, k, v).dtype == jnp.bfloat16


def test_attention_dropout_only_in_training():
    q, k, v = random((2, 6, 2, 4), 0), random((2, 6, 2, 4), 1), random((2, 6, 2, 4), 2)
    plain = attention.dot_product_attention(q, k, v, dropout_rate=0.5, deterministic=True)
    np.testing.assert_allclose(plain, np_attention(q, k, v), rtol=1e-5, atol=1e-5)
    a = attention.dot_product_attention(q, k, v, dropout_rate=0.5, dropout_rng=jax.random.key(1),
                                        deterministic=False)
    b = attention.dot_product_attention(q, k, v, dropout_rate=0.5, dropout_rng=jax.random.key(2),
                                        deterministic=False)
    assert not np.allclose(a, plain) and not np.allclose(a, b)


def test_multi_head_attention_equals_numpy_with_its_own_weights():
    x = random((2, 5, 12), 0)
    module = attention.MultiHeadAttention(num_heads=3)
    params = init(module, x)["params"]
    assert params["query"]["kernel"].shape == (12, 3, 4) and params["out"]["kernel"].shape == (3, 4, 12)
    # torchvision's nn.MultiheadAttention: in_proj 3 D^2 + 3 D, out_proj D^2 + D.
    assert num_params(params) == 4 * 12 * 12 + 4 * 12
    p = jax.tree.map(np.asarray, params)
    np.testing.assert_allclose(module.apply({"params": params}, x)[0], np_mha(p, x, x), rtol=1e-5, atol=1e-5)
    mask = np.tril(np.ones((5, 5), bool))
    np.testing.assert_allclose(module.apply({"params": params}, x, mask=mask)[0], np_mha(p, x, x, mask), rtol=1e-5,
                               atol=1e-5)


def test_multi_head_cross_attention_equals_numpy():
    x_q, x_kv = random((2, 3, 8), 0), random((2, 6, 8), 1)
    valid = np.array([[1, 1, 1, 1, 0, 0], [1] * 6], bool)
    module = attention.MultiHeadAttention(num_heads=2, qkv_features=16)
    params = init(module, x_q, x_kv)["params"]
    p = jax.tree.map(np.asarray, params)
    out, _ = module.apply({"params": params}, x_q, x_kv, mask=attention.padding_mask(valid))
    assert out.shape == (2, 3, 8)
    np.testing.assert_allclose(out, np_mha(p, x_q, x_kv, valid[:, None, None, :]), rtol=1e-5, atol=1e-5)


def test_multi_head_attention_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="qkv_features=10 is not divisible by num_heads=3"):
        attention.MultiHeadAttention(num_heads=3).init(jax.random.key(0), jnp.ones((1, 2, 10)))


@pytest.mark.parametrize("pre_norm", [True, False])
def test_encoder_block_equals_numpy(pre_norm):
    x, mask = random((2, 5, 8), 0), np.tril(np.ones((5, 5), bool))
    block = attention.EncoderBlock(num_heads=2, mlp_dim=16, pre_norm=pre_norm)
    params = init(block, x)["params"]
    # Perturb the LayerNorm parameters so that they matter.
    rng = np.random.default_rng(3)
    p = jax.tree.map(lambda a: np.asarray(a) + 0.1 * rng.normal(size=a.shape).astype(np.float32), params)
    ln1 = lambda y: np_layer_norm(y, p["norm1"], 1e-6)  # noqa: E731
    ln2 = lambda y: np_layer_norm(y, p["norm2"], 1e-6)  # noqa: E731
    if pre_norm:   # ViT: x + MHA(LN(x)), then x + MLP(LN(x))
        y = x + np_mha(p["attention"], ln1(x), ln1(x), mask)
        expected = y + np_mlp(p["mlp"], ln2(y))
    else:          # 2017 Transformer: LN(x + MHA(x)), then LN(x + MLP(x))
        y = ln1(x + np_mha(p["attention"], x, x, mask))
        expected = ln2(y + np_mlp(p["mlp"], y))
    np.testing.assert_allclose(block.apply({"params": p}, x, mask=mask)[0], expected, rtol=1e-4, atol=1e-4)


def test_encoder_block_dropout_needs_train_and_differs_per_rng():
    x = random((2, 5, 8), 0)
    block = attention.EncoderBlock(num_heads=2, mlp_dim=16, dropout_rate=0.3, attention_dropout_rate=0.3)
    variables = init(block, x)
    evaluate = jax.jit(lambda v, x: block.apply(v, x)[0])   # the block returns (x, cache)
    np.testing.assert_array_equal(evaluate(variables, x), evaluate(variables, x))
    train = train_fn(block)
    a, b = train(variables, x, 1)[0], train(variables, x, 2)[0]
    assert not np.allclose(a, b) and not np.allclose(a, evaluate(variables, x))


# ---------------------------------------------------------------- bf16 blocks

@pytest.mark.parametrize("block,x_shape", [
    (attention.EncoderBlock(num_heads=2, mlp_dim=32, dtype=jnp.bfloat16), (2, 5, 16)),
    (convnext.ConvNeXtBlock(dtype=jnp.bfloat16), (2, 7, 7, 16)),
    pytest.param(swin.SwinBlock(num_heads=2, window_size=4, shift_size=2, dtype=jnp.bfloat16), (2, 8, 8, 16),
                 marks=pytest.mark.slow),   # 11 s; test_model_zoo traces swin_mnist in bfloat16
], ids=["encoder", "convnext", "swin"])
def test_blocks_compute_in_bfloat16_with_float32_params(block, x_shape):
    x = jnp.asarray(random(x_shape, 0), jnp.bfloat16)
    variables = init(block, x)
    assert {leaf.dtype for leaf in jax.tree.leaves(variables["params"])} == {jnp.dtype(jnp.float32)}
    out = block.apply(variables, x)
    out = out[0] if isinstance(out, tuple) else out   # the encoder block returns (x, cache)
    assert out.dtype == jnp.bfloat16 and out.shape == x_shape
    assert np.isfinite(np.asarray(out, np.float32)).all()


# ---------------------------------------------------------------- ViT

@pytest.mark.parametrize("name,expected", [
    ("vit_b16", 86_567_656), ("vit_l16", 304_326_632), ("vit_s16", 22_050_664), ("vit_b32", 88_224_232)])
def test_vit_parameter_counts_match_torchvision(name, expected):
    assert num_params(params_of(name, vit)) == expected


def test_vit_b16_parts():
    params = params_of("vit_b16", vit)
    assert params["pos_embedding"].shape == (1, 197, 768)   # 14 x 14 patches + the class token
    assert num_params(params["patch_embed"]) == 16 * 16 * 3 * 768 + 768
    # One encoder block: 2 LayerNorms, attention 4 D^2 + 4 D, MLP 2 D * 3072 + 3072 + D.
    assert num_params(params["encoder_block1"]) == 4 * 768 + 4 * 768 ** 2 + 4 * 768 + 2 * 768 * 3072 + 3072 + 768
    assert num_params(params["encoder_block1"]) == 7_087_872
    assert "encoder_block12" in params and "encoder_block13" not in params


def test_vit_b16_macs():
    assert macs_of("vit_b16", vit) == pytest.approx(17.564e9, rel=0.01)


def test_vit_rejects_another_image_size_naming_the_one_it_was_made_for():
    model = vit.ViT(patch_size=4, hidden_dim=16, depth=1, num_heads=2, mlp_dim=32, num_classes=10)
    variables = init(model, jnp.zeros((1, 28, 28, 1)))
    with pytest.raises(ValueError, match=r"made for 49 patches of 4x4 \(28x28 images\); got 32x32 images"):
        model.apply(variables, jnp.zeros((1, 32, 32, 1)))
    with pytest.raises(ValueError, match="image size 30x30 is not a multiple of the patch size 4"):
        model.apply(variables, jnp.zeros((1, 30, 30, 1)))


# ---------------------------------------------------------------- ConvNeXt

@pytest.mark.parametrize("name,expected", [
    ("convnext_t", 28_589_128), ("convnext_s", 50_223_688), ("convnext_b", 88_591_464)])
def test_convnext_parameter_counts_match_torchvision(name, expected):
    assert num_params(params_of(name, convnext)) == expected


def test_convnext_t_parts():
    params = params_of("convnext_t", convnext)
    c = 96  # dwconv 7x7 + LN + Dense C->4C + Dense 4C->C + layer scale
    assert num_params(params["stage1_block1"]) == 49 * c + c + 2 * c + 4 * c * c + 4 * c + 4 * c * c + c + c == 79_296
    assert num_params(params["downsample2"]) == 2 * 2 * 96 * 192 + 192
    assert [k for k in params if k.startswith("stage3_")] == [f"stage3_block{i}" for i in range(1, 10)]


def test_convnext_t_macs():
    assert macs_of("convnext_t", convnext) == pytest.approx(4.456e9, rel=0.01)


def test_convnext_block_starts_near_identity():
    x = random((1, 7, 7, 8), 0)
    block = convnext.ConvNeXtBlock()
    variables = init(block, x)
    np.testing.assert_allclose(variables["params"]["layer_scale"], 1e-6)
    np.testing.assert_allclose(block.apply(variables, x), x, atol=1e-4)


def test_drop_path_drops_whole_examples():
    x = random((64, 7, 7, 8), 0)
    block = convnext.ConvNeXtBlock(layer_scale_init=1.0, drop_path_rate=0.5)
    variables = init(block, x)
    np.testing.assert_array_equal(block.apply(variables, x), block.apply(variables, x))  # eval: no drop
    out = np.asarray(train_fn(block)(variables, x, 1))
    same = (out == x).reshape(64, -1)
    assert set(same.all(1)) == {True, False} and (same.all(1) | ~same.any(1)).all()


# ---------------------------------------------------------------- Swin

@pytest.mark.parametrize("name,expected", [
    ("swin_t", 28_288_354), ("swin_s", 49_606_258), ("swin_b", 87_768_224)])
def test_swin_parameter_counts_match_torchvision(name, expected):
    assert num_params(params_of(name, swin)) == expected


def test_swin_t_parts():
    params = params_of("swin_t", swin)
    c = 96
    block = params["stage1_block1"]
    assert block["relative_position_bias_table"].shape == (13 * 13, 3)   # (2M - 1)^2 x heads
    assert num_params(block) == 2 * 2 * c + 4 * c * c + 4 * c + 169 * 3 + 8 * c * c + 5 * c == 112_347
    assert num_params(params["patch_merging2"]) == 2 * 4 * c + 4 * c * 2 * c  # LN(4C) + Dense 4C->2C, no bias
    assert "bias" not in params["patch_merging2"]["reduction"]


def test_swin_t_macs():
    assert macs_of("swin_t", swin) == pytest.approx(4.491e9, rel=0.01)   # torchvision: 4.49 GFLOPS


def test_window_partition_round_trip_and_layout():
    x = random((2, 14, 21, 3), 0)
    windows = swin.window_partition(x, 7)
    assert windows.shape == (2, 6, 49, 3)
    # Window 4 is row 1, column 1 of the 2x3 grid of windows.
    np.testing.assert_array_equal(windows[:, 4], x[:, 7:14, 7:14].reshape(2, 49, 3))
    np.testing.assert_array_equal(swin.window_reverse(windows, 7, 14, 21), x)
    np.testing.assert_array_equal(swin.window_reverse(swin.window_partition(jnp.asarray(x), 7), 7, 14, 21), x)


def test_relative_position_index_against_brute_force():
    m = 3
    index = swin.relative_position_index(m)
    cells = [(i, j) for i in range(m) for j in range(m)]
    expected = [[(a[0] - b[0] + m - 1) * (2 * m - 1) + (a[1] - b[1] + m - 1) for b in cells] for a in cells]
    np.testing.assert_array_equal(index, expected)


@pytest.mark.parametrize("size,window,shift", [(14, 7, 3), (8, 4, 2), (12, 4, 2)])
def test_shift_mask_forbids_attention_across_the_rolled_boundary(size, window, shift):
    mask = swin.shifted_window_mask(size, size, window, shift)
    # Independent construction: pixel (r, c) of the rolled image came from ((r + s) % H, (c + s) % W).
    # Two tokens of a window may attend iff they were within one window's span in the original image,
    # i.e. the roll did not bring them together from opposite borders.
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    origin = np.stack([(rows + shift) % size, (cols + shift) % size], -1)[None]
    origin = swin.window_partition(origin, window)[0]                    # (windows, M^2, 2)
    distance = np.abs(origin[:, :, None] - origin[:, None, :]).max(-1)  # (windows, M^2, M^2)
    np.testing.assert_array_equal(mask, distance < window)
    grid = mask.reshape(size // window, size // window, *mask.shape[1:])
    assert grid[:-1, :-1].all()                      # windows away from the wrapped borders: no mask
    assert not grid[-1].all((1, 2)).any() and not grid[:, -1].all((1, 2)).any()   # border windows: masked


def test_shifted_block_mixes_across_windows_and_unshifted_does_not():
    x = np.zeros((1, 8, 8, 4), np.float32)
    x[0, 3, 3, 0] = 1.0   # a change in the top-left window (4x4 windows)
    for shift, leaks in ((0, False), (2, True)):
        block = swin.SwinBlock(num_heads=2, window_size=4, shift_size=shift)
        variables = init(block, x)
        both = jax.jit(block.apply)(variables, np.concatenate([np.zeros_like(x), x]))
        changed = np.abs(np.asarray(both[1] - both[0])).sum(-1)
        assert (changed[4:, 4:] > 1e-6).any() == leaks   # the bottom-right window
        assert (changed[:4, :4] > 1e-6).any()


def test_swin_drop_path_is_per_image_not_per_window():
    x = random((32, 8, 8, 4), 0)
    block = swin.SwinBlock(num_heads=2, window_size=4, shift_size=2, drop_path_rate=0.5)
    variables = init(block, x)
    out = np.asarray(train_fn(block)(variables, x, 1))
    same = (out == x).reshape(32, -1)
    assert same.all(1).any() and (same.all(1) | ~same.any(1)).all()


def test_swin_rejects_feature_maps_that_are_not_whole_windows():
    model = swin.SwinMNIST()
    with pytest.raises(ValueError, match=r"15x15 feature map cannot be cut into 7x7 windows"):
        jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 30, 30, 1)))


# ---------------------------------------------------------------- MNIST variants, all three families

MNIST = {"vit_mnist": vit, "convnext_mnist": convnext, "swin_mnist": swin}
# swin_mnist compiles for 10-15 s per test; test_model_zoo runs it in both modes and in bfloat16 in the default suite
SLOW_SWIN = [pytest.param(n, marks=pytest.mark.slow) if n == "swin_mnist" else n for n in MNIST]
ONLY_VIT = [n if n == "vit_mnist" else pytest.param(n, marks=pytest.mark.slow) for n in MNIST]   # the zoo runs the rest


@functools.cache
def mnist_model_and_variables(name):
    """Each MNIST variant with stochastic depth or dropout on, initialised once for the tests below."""
    ctor, shape = MNIST[name].MODELS[name]
    model = ctor(dropout_rate=0.1) if name == "vit_mnist" else ctor(drop_path_rate=0.1)
    return model, init(model, jnp.zeros((1, *shape)))


@pytest.mark.parametrize("name", SLOW_SWIN)
def test_mnist_variant_runs_in_train_mode(name):
    model, variables = mnist_model_and_variables(name)
    assert MNIST[name].MODELS[name][1] == (28, 28, 1)
    x = jnp.asarray(random((3, 28, 28, 1), 0))
    logits, updates = jax.jit(lambda v, x: model.apply(v, x, train=True, rngs={"dropout": jax.random.key(1)},
                                                       mutable=["batch_stats"]))(variables, x)
    assert logits.shape == (3, 10) and logits.dtype == jnp.float32 and updates == {}  # LayerNorm only
    assert np.isfinite(np.asarray(logits)).all()


@pytest.mark.parametrize("name", ONLY_VIT)
def test_mnist_variant_runs_in_eval_mode(name):
    model, variables = mnist_model_and_variables(name)
    x = jnp.asarray(random((3, 28, 28, 1), 0))
    logits = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, x)
    assert logits.shape == (3, 10) and logits.dtype == jnp.float32
    assert np.isfinite(np.asarray(logits)).all()


@pytest.mark.parametrize("name", MNIST)
def test_mnist_variant_is_small(name):
    params = num_params(params_of(name, MNIST[name]))
    macs = macs_of(name, MNIST[name])
    assert 20_000 < params < 1_000_000 and 1e6 < macs <= 10e6, (params, macs)


@pytest.mark.parametrize("name", SLOW_SWIN)
def test_bfloat16_model_gives_logits_of_the_right_shape(name):
    model, variables = mnist_model_and_variables(name)
    model = model.clone(dtype=jnp.bfloat16)
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    assert {leaf.dtype for leaf in jax.tree.leaves(shapes["params"])} == {jnp.dtype(jnp.float32)}
    logits = jax.jit(model.apply)(variables, jnp.asarray(random((2, 28, 28, 1), 0)))
    assert logits.shape == (2, 10) and logits.dtype in (jnp.bfloat16, jnp.float32)


@pytest.mark.parametrize("name,layer", [("vit_mnist", "patch_embed"), ("convnext_mnist", "stem"),
                                        ("swin_mnist", "patch_embed")])
def test_wrong_channel_count_names_the_layer(name, layer):
    model = MNIST[name].MODELS[name][0]()
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 28, 28, 3)))  # made for RGB
    variables = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    with pytest.raises(flax.errors.ScopeParamShapeError, match=rf'"kernel" in "/{layer}"'):
        model.apply(variables, jnp.zeros((1, 28, 28, 1)))

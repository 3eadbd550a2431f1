"""Convolution primitives: d2l.ai's worked examples (sections 7.2-7.5) exactly, then checks against independent
references (jax.lax.conv_general_dilated, flax pooling, NumPy loops), then the error messages."""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo.layers import conv
from deepzoo.layers.conv import corr2d, corr2d_multi_in, corr2d_multi_in_out, corr2d_multi_in_out_1x1, pool2d

X = jnp.arange(9.0).reshape(3, 3)          # [[0,1,2],[3,4,5],[6,7,8]]
K = jnp.array([[0.0, 1.0], [2.0, 3.0]])
X2 = jnp.stack([X, X + 1])                 # second channel [[1,2,3],[4,5,6],[7,8,9]]
K2 = jnp.stack([K, K + 1])                 # second kernel [[1,2],[3,4]]


def assert_equal(actual, expected):
    np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected, dtype=np.float32))


# --- d2l.ai's worked examples (exact) -----------------------------------------------------------------

def test_cross_correlation():
    assert_equal(corr2d(X, K), [[19, 25], [37, 43]])


def test_padding_one_each_side():
    assert_equal(corr2d(X, K, padding=(1, 1)),
                 [[0, 3, 8, 4], [9, 19, 25, 10], [21, 37, 43, 16], [6, 7, 8, 0]])


def test_padding_and_strides_3_2():
    assert_equal(corr2d(X, K, padding=(1, 1), stride=(3, 2)), [[0, 8], [6, 8]])


def test_two_input_channels():
    assert_equal(corr2d_multi_in(X2, K2), [[56, 72], [104, 120]])


def test_multiple_output_channels():
    kernels = jnp.stack([K2, K2 + 1, K2 + 2])           # (3, 2, 2, 2)
    y = corr2d_multi_in_out(X2, kernels)
    assert y.shape == (3, 2, 2)
    assert_equal(y[0], [[56, 72], [104, 120]])
    for o in range(3):
        assert_equal(y[o], corr2d_multi_in(X2, kernels[o]))


def test_1x1_convolution_is_a_dense_layer_over_channels():
    kx, kk = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (3, 4, 5))
    k = jax.random.normal(kk, (2, 3, 1, 1))
    y = corr2d_multi_in_out(x, k)
    assert y.shape == (2, 4, 5)
    np.testing.assert_allclose(corr2d_multi_in_out_1x1(x, k), y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(corr2d_multi_in_out_1x1(x, k[:, :, 0, 0]), y, rtol=1e-5, atol=1e-6)
    # flax's Dense on every pixel (pixels as rows, channels as features), kernel (C_in, C_out) = W^T
    dense = nn.Dense(2, use_bias=False, precision=jax.lax.Precision.HIGHEST)
    pixels = x.reshape(3, -1).T                           # (H*W, C_in)
    out = dense.apply({"params": {"kernel": k[:, :, 0, 0].T}}, pixels)
    np.testing.assert_allclose(out.T.reshape(2, 4, 5), y, rtol=1e-5, atol=1e-6)


def test_pooling_2x2():
    # d2l's from-scratch pool2d slides with stride 1; ours defaults to stride = window (as PyTorch)
    assert_equal(pool2d(X, (2, 2), stride=1), [[4, 5], [7, 8]])
    assert_equal(pool2d(X, (2, 2), mode="avg", stride=1), [[2, 3], [5, 6]])
    assert_equal(pool2d(X, (2, 2)), [[4]])                # default stride 2: one window fits


def test_pooling_padding_and_stride():
    x = jnp.arange(16.0).reshape(4, 4)
    assert_equal(pool2d(x, 3), [[10]])                    # stride defaults to the window
    assert_equal(pool2d(x, 3, padding=1, stride=2), [[5, 7], [13, 15]])
    assert_equal(pool2d(x, (2, 3), padding=(0, 1), stride=(2, 3)), [[5, 7], [13, 15]])
    # average with count_include_pad: the corner window holds 0, 1, 4, 5 and five zeros of padding
    np.testing.assert_allclose(pool2d(x, 3, mode="avg", padding=1, stride=2),
                               [[10 / 9, 24 / 9], [51 / 9, 90 / 9]], rtol=1e-6)


def test_pooling_each_channel_separately():
    x = jnp.arange(16.0).reshape(4, 4)
    y = pool2d(jnp.stack([x, x + 1]), 3, padding=1, stride=2)
    assert_equal(y, [[[5, 7], [13, 15]], [[6, 8], [14, 16]]])


def test_max_pool_padding_never_wins():
    x = -jnp.arange(1.0, 17.0).reshape(4, 4)              # all negative: a zero pad would win
    y = pool2d(x, 3, padding=1, stride=2)
    assert_equal(y, [[-1, -2], [-5, -6]])          # zero padding would give 0s
    xi = -jnp.arange(1, 17).reshape(4, 4)                 # integers: padded with the dtype minimum
    yi = pool2d(xi, 3, padding=1, stride=2)
    assert yi.dtype == xi.dtype
    np.testing.assert_array_equal(yi, [[-1, -2], [-5, -6]])
    assert pool2d(xi, 2, mode="avg").dtype == jnp.float32


EDGES = jnp.ones((6, 8)).at[:, 2:6].set(0.0)              # d2l: columns 2..5 black


def test_edge_detection():
    assert_equal(EDGES[0], [1, 1, 0, 0, 0, 0, 1, 1])
    y = corr2d(EDGES, jnp.array([[1.0, -1.0]]))
    assert y.shape == (6, 7)
    assert_equal(y, jnp.tile(jnp.array([0.0, 1, 0, 0, 0, -1, 0]), (6, 1)))
    # horizontal kernel on the transposed image: no vertical edges to find
    assert_equal(corr2d(EDGES.T, jnp.array([[1.0, -1.0]])), jnp.zeros((8, 5)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learn_edge_kernel_by_gradient_descent(seed):
    """d2l: 10 steps of gradient descent, learning rate 3e-2, on the summed squared error."""
    y = corr2d(EDGES, jnp.array([[1.0, -1.0]]))
    loss = lambda k: jnp.sum((corr2d(EDGES, k) - y) ** 2)
    bound = 1 / np.sqrt(2)                                # PyTorch's default init for fan-in 2
    k = jax.random.uniform(jax.random.key(seed), (1, 2), minval=-bound, maxval=bound)
    first = loss(k)
    step = jax.jit(lambda k: k - 3e-2 * jax.grad(loss)(k))
    for _ in range(10):
        k = step(k)
    assert loss(k) < 0.02 * first
    np.testing.assert_allclose(k, [[1.0, -1.0]], atol=0.1)


def test_output_size_formula():
    assert conv.output_size(3, 2) == 2
    assert conv.output_size(3, 2, padding=1, stride=3) == 2
    assert conv.output_size(32, 5) == 28                  # 32x32 with a 5x5 kernel: 28x28
    n = 32
    for _ in range(7):
        n = conv.output_size(n, 5)
    assert n == 4                                         # ... and 4x4 after 7 such layers


# --- Independent references on random inputs -----------------------------------------------------------

def numpy_corr2d(x, k, padding, stride):
    x = np.pad(np.asarray(x, np.float64), [(padding[0],) * 2, (padding[1],) * 2])
    k = np.asarray(k, np.float64)
    oh = (x.shape[0] - k.shape[0]) // stride[0] + 1
    ow = (x.shape[1] - k.shape[1]) // stride[1] + 1
    y = np.zeros((oh, ow))
    for a in range(oh):
        for b in range(ow):
            r, c = a * stride[0], b * stride[1]
            y[a, b] = np.sum(x[r:r + k.shape[0], c:c + k.shape[1]] * k)
    return y


def numpy_pool2d(x, window, padding, stride, mode):
    fill = -np.inf if mode == "max" else 0.0
    x = np.pad(np.asarray(x, np.float64), [(padding[0],) * 2, (padding[1],) * 2], constant_values=fill)
    oh = (x.shape[0] - window[0]) // stride[0] + 1
    ow = (x.shape[1] - window[1]) // stride[1] + 1
    reduce = np.max if mode == "max" else np.mean       # mean over the whole window, pads included
    return np.array([[reduce(x[a * stride[0]:a * stride[0] + window[0], b * stride[1]:b * stride[1] + window[1]])
                      for b in range(ow)] for a in range(oh)])


GEOMETRIES = [  # (H, W), (kh, kw), padding, stride
    ((7, 9), (3, 3), (0, 0), (1, 1)),
    ((7, 9), (3, 2), (1, 2), (2, 3)),
    ((8, 8), (5, 5), (2, 2), (2, 2)),
    ((6, 5), (1, 4), (0, 1), (3, 1)),
    ((5, 5), (6, 6), (1, 1), (1, 1)),                      # kernel larger than the input, not the padded one
]


@pytest.mark.parametrize("hw,khw,padding,stride", GEOMETRIES)
def test_corr2d_matches_numpy_loop(hw, khw, padding, stride):
    kx, kk = jax.random.split(jax.random.key(1))
    x, k = jax.random.normal(kx, hw), jax.random.normal(kk, khw)
    np.testing.assert_allclose(corr2d(x, k, padding=padding, stride=stride),
                               numpy_corr2d(x, k, padding, stride), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("hw,khw,padding,stride", GEOMETRIES)
def test_corr2d_multi_in_out_matches_lax_conv(hw, khw, padding, stride):
    kx, kk = jax.random.split(jax.random.key(2))
    x = jax.random.normal(kx, (3, *hw))
    k = jax.random.normal(kk, (4, 3, *khw))
    expected = jax.lax.conv_general_dilated(
        x[None], k, window_strides=stride, padding=[(p, p) for p in padding],
        dimension_numbers=("NCHW", "OIHW", "NCHW"), precision=jax.lax.Precision.HIGHEST)[0]
    y = corr2d_multi_in_out(x, k, padding=padding, stride=stride)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    # the same under jit, and the same gradient with respect to the kernel
    f = jax.jit(functools.partial(corr2d_multi_in_out, padding=padding, stride=stride))
    np.testing.assert_allclose(f(x, k), expected, rtol=1e-5, atol=1e-5)
    g = jax.grad(lambda k: jnp.sum(jnp.sin(corr2d_multi_in_out(x, k, padding=padding, stride=stride))))(k)
    g_ref = jax.grad(lambda k: jnp.sum(jnp.sin(jax.lax.conv_general_dilated(
        x[None], k, stride, [(p, p) for p in padding], dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision=jax.lax.Precision.HIGHEST))))(k)
    np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-4)


POOL_GEOMETRIES = [  # (H, W), window, padding, stride (None: the window)
    ((6, 8), (2, 2), (0, 0), None),
    ((7, 9), (3, 3), (1, 1), (2, 2)),
    ((7, 9), (3, 2), (1, 0), (1, 1)),
    ((5, 8), (2, 3), (0, 1), (2, 3)),
    ((9, 9), (3, 3), (2, 2), (3, 2)),
]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("hw,window,padding,stride", POOL_GEOMETRIES)
def test_pool2d_matches_flax_and_numpy(mode, hw, window, padding, stride):
    x = jax.random.normal(jax.random.key(3), (3, *hw))
    y = pool2d(x, window, mode=mode, padding=padding, stride=stride)
    flax_pool = nn.max_pool if mode == "max" else functools.partial(nn.avg_pool, count_include_pad=True)
    nhwc = flax_pool(jnp.transpose(x, (1, 2, 0))[None], window, strides=stride or window,
                     padding=[(p, p) for p in padding])[0]
    expected = jnp.transpose(nhwc, (2, 0, 1))
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    for c in range(3):
        np.testing.assert_allclose(y[c], numpy_pool2d(x[c], window, padding, stride or window, mode),
                                   rtol=1e-6, atol=1e-6)


# --- Bad inputs: clear messages ------------------------------------------------------------------------

@pytest.mark.parametrize("call,message", [
    (lambda: corr2d(X, jnp.ones((4, 2))), r"kernel \(4, 2\) is larger than the padded input \(3, 3\)"),
    (lambda: corr2d(X, jnp.ones((5, 5)), padding=(1, 0)), r"larger than the padded input \(5, 3\)"),
    (lambda: corr2d_multi_in_out(X2, jnp.ones((1, 2, 4, 4))), "larger than the padded input"),
    (lambda: pool2d(X, 4), r"window \(4, 4\) is larger than the padded input"),
    (lambda: corr2d(X, K, stride=0), r"stride must be positive; got \(0, 0\)"),
    (lambda: corr2d(X, K, stride=(1, -2)), "stride must be positive"),
    (lambda: corr2d_multi_in(X2, K2, stride=(0, 1)), "stride must be positive"),
    (lambda: pool2d(X, 2, stride=(2, 0)), "stride must be positive"),
    (lambda: corr2d(X, K, padding=-1), "padding must be non-negative"),
    (lambda: corr2d(X, K, stride=1.5), "stride must be an int or a pair of ints"),
    (lambda: corr2d(X, K, padding=(1, 1, 1)), "padding must be an int or a pair of ints"),
    (lambda: corr2d(X2, K), r"corr2d input x must have 2 axes \(height, width\); got shape \(2, 3, 3\)"),
    (lambda: corr2d(X, K2), r"corr2d kernel k must have 2 axes \(kh, kw\)"),
    (lambda: corr2d_multi_in(X, K), r"must have 3 axes \(channels, height, width\); got shape \(3, 3\)"),
    (lambda: corr2d_multi_in_out(X2, K2), r"kernel k must have 4 axes \(out_channels, in_channels, kh, kw\)"),
    (lambda: corr2d_multi_in_out_1x1(X2, jnp.ones((3, 2, 2, 2))), "needs a 1x1 kernel"),
    (lambda: pool2d(X[None, None], 2), r"\(height, width\) or \(channels, height, width\); got shape \(1, 1, 3, 3\)"),
    (lambda: corr2d_multi_in(X2, jnp.ones((3, 2, 2))),
     r"channel mismatch: the kernel expects 3 input channel\(s\).*x has 2"),
    (lambda: corr2d_multi_in_out(X2, jnp.ones((4, 1, 2, 2))),
     r"channel mismatch: the kernel expects 1 input channel\(s\).*x has 2"),
    (lambda: corr2d_multi_in_out_1x1(X2, jnp.ones((4, 3))),
     r"channel mismatch: the kernel expects 3 input channel\(s\).*x has 2"),
    (lambda: pool2d(X, 2, mode="min"), "mode must be 'max' or 'avg'"),
    (lambda: pool2d(X, 2, padding=2, stride=1), "padding .* must be smaller than the window"),
])
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()

"""deepzoo.layers.one_channel_conv: the same convolution and gradients as lax.conv_general_dilated, computed
without XLA's forward convolution in CPU train steps where it applies, and left to XLA everywhere else."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from deepzoo.analysis import complexity
from deepzoo.layers.one_channel_conv import Conv, conv_general_dilated

NHWC = lax.conv_dimension_numbers((1, 8, 8, 1), (3, 3, 1, 4), ("NHWC", "HWIO", "NHWC"))


def both(x, kernel, strides=(1, 1), padding="SAME", **kw):
    args = (x, kernel, strides, padding)
    return conv_general_dilated(*args, dimension_numbers=NHWC, **kw), lax.conv_general_dilated(
        *args, dimension_numbers=NHWC, **kw)


def compiled(fn, *args) -> str:
    return jax.jit(fn).lower(*args).compile().as_text()


@pytest.mark.parametrize("kernel, padding", [((5, 5), ((2, 2), (2, 2))), ((3, 3), "SAME"), ((3, 2), "VALID"),
                                             ((4, 4), ((0, 3), (1, 2)))])
def test_equals_xla_convolution_with_its_gradients(kernel, padding):
    keys = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(keys[0], (3, 9, 8, 1))
    w = jax.random.normal(keys[1], (*kernel, 1, 6))
    # Differentiated (a train step): the sum of shifted products, and XLA's gradients.
    (ours, ours_vjp), (xla, xla_vjp) = (jax.vjp(lambda x, w, i=i: both(x, w, padding=padding)[i], x, w)
                                        for i in (0, 1))
    np.testing.assert_allclose(ours, xla, rtol=1e-5, atol=1e-5)
    probe = jax.random.normal(keys[2], xla.shape)
    for ours_grad, xla_grad in zip(ours_vjp(probe), xla_vjp(probe)):
        np.testing.assert_allclose(ours_grad, xla_grad, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(*both(x, w, padding=padding))   # not differentiated: XLA's own


def test_a_train_step_on_cpu_keeps_only_the_kernel_gradients_convolution():
    x, w = jnp.ones((2, 28, 28, 1)), jnp.ones((5, 5, 1, 6))
    step = lambda f: compiled(jax.grad(lambda w, x: jnp.sum(jnp.tanh(f(x, w)))), w, x)
    assert step(lambda x, w: both(x, w)[0]).count("convolution(") == 1   # XLA's, through the custom VJP
    assert step(lambda x, w: both(x, w)[1]).count("convolution(") == 2   # XLA's forward and kernel gradient
    assert "convolution(" in compiled(lambda x, w: both(x, w)[0], x, w)   # evaluation: XLA's (module docstring)


@pytest.mark.parametrize("x_shape, w_shape, strides, kw", [
    ((2, 12, 12, 3), (3, 3, 3, 4), (1, 1), {}),                           # three input channels
    ((2, 12, 12, 1), (3, 3, 1, 4), (2, 2), {}),                           # strided
    ((2, 20, 20, 1), (9, 9, 1, 4), (1, 1), {}),                           # 81 taps: XLA's is faster
    ((2, 12, 12, 4), (3, 3, 1, 4), (1, 1), {"feature_group_count": 4}),   # depthwise
    ((2, 12, 12, 1), (3, 3, 1, 4), (1, 1), {"rhs_dilation": (2, 2)}),
])
def test_everything_else_is_xla_convolution(x_shape, w_shape, strides, kw):
    x, w = jnp.ones(x_shape), jnp.ones(w_shape)
    ours, xla = both(x, w, strides, **kw)
    np.testing.assert_array_equal(ours, xla)
    assert "convolution(" in compiled(lambda x, w: both(x, w, strides, **kw)[0], x, w)


def test_flax_module_keeps_parameters_and_macs():
    import flax.linen as nn
    x = jnp.ones((2, 28, 28, 1))
    ours, theirs = Conv(6, (5, 5), padding=2), nn.Conv(6, (5, 5), padding=2)
    variables = ours.init(jax.random.key(0), x)
    assert jax.tree.map(jnp.shape, variables) == jax.tree.map(jnp.shape, theirs.init(jax.random.key(0), x))
    np.testing.assert_allclose(ours.apply(variables, x), theirs.apply(variables, x), rtol=1e-5, atol=1e-5)
    # The program still holds the convolution (for platforms other than CPU): the MAC counter finds it.
    assert complexity.count_macs(ours.apply, variables, x) == 2 * 28 * 28 * 6 * 25
    bf16 = Conv(6, (5, 5), padding=2, dtype=jnp.bfloat16)   # left to XLA: the sum in bfloat16 is slower
    assert bf16.apply(variables, x).dtype == jnp.bfloat16
    assert "convolution(" in compiled(bf16.apply, variables, x)

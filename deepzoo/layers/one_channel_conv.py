"""Convolutions of one input channel (the first layer of every network on grey images) computed in CPU train
steps as a sum of shifted products, where XLA's own convolution is slow for them; a drop-in for
lax.conv_general_dilated.

XLA:CPU (jax 0.10) runs LeNet-5's C1 (batch 256, 28x28, 1 -> 6 channels, 5x5, padding 2) forward in 10 ms,
PyTorch in 1.2 ms. The same convolution written as the sum over the 25 kernel offsets of a shifted slice of the
padded input times that offset's weights, one elementwise fusion, takes 0.8 ms; with its kernel gradient (XLA's,
through a custom VJP) 4.7 ms against 15.9, and LeNet-5's train step 27-29 -> 18-20 ms (2 CPU cores, Dec 2026;
the step of benchmarks/peers.py). The rewrite is used only where it was measured to win: differentiated (a
forward alone keeps XLA's, which fuses better with a following pooling), on CPU, float32 (in bfloat16 the sum
is 4x slower), one input channel, no groups, unit strides and dilations, NHWC/HWIO (flax's layout) and at most
25 kernel taps (CapsNet's 9x9 -> 256 is faster as XLA's). Everywhere else this is lax.conv_general_dilated.

    Conv = functools.partial(nn.Conv, conv_general_dilated=conv_general_dilated)   # the same parameters as nn.Conv
"""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

MAX_TAPS = 25
_NHWC_HWIO = lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))   # flax's dimension numbers


def _shifted_sum(x, kernel, pads):
    """x (B, H, W, 1), kernel (kh, kw, 1, F), pads ((top, bottom), (left, right)) -> (B, H', W', F)."""
    kh, kw = kernel.shape[:2]
    x = jnp.pad(x, ((0, 0), *pads, (0, 0)))
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    return sum(x[:, i:i + h, j:j + w, :] * kernel[i, j, 0] for i in range(kh) for j in range(kw))


def _xla_conv(x, kernel, pads):
    return lax.conv_general_dilated(x, kernel, (1, 1), pads, dimension_numbers=_NHWC_HWIO)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv(x, kernel, pads):
    # Not differentiated (evaluation, inference): XLA's. Followed by a pooling, the sum is fused into it and
    # slow (LeNet-5's forward 22 ms against 15); in a train step its output is kept for the backward pass.
    return _xla_conv(x, kernel, pads)


def _conv_fwd(x, kernel, pads):
    return _shifted_sum(x, kernel, pads), (x, kernel)


def _conv_bwd(pads, residuals, g):
    # The gradients of XLA's convolution: its kernel gradient is fast; unused ones are removed by XLA.
    return jax.vjp(lambda x, k: _xla_conv(x, k, pads), *residuals)[1](g)


_conv.defvjp(_conv_fwd, _conv_bwd)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, batch_group_count=1, precision=None,
                         preferred_element_type=None):
    """lax.conv_general_dilated, whose forward is a sum of shifted products when differentiated on CPU in the
    cases of the module docstring (lax.platform_dependent: other platforms compile XLA's convolution)."""
    args = (window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers, feature_group_count,
            batch_group_count, precision, preferred_element_type)
    rewritten = (lhs.ndim == 4 and rhs.shape[2] == 1 and rhs.shape[0] * rhs.shape[1] <= MAX_TAPS
                 and dimension_numbers == _NHWC_HWIO and tuple(window_strides) == (1, 1)
                 and all(d is None or tuple(d) == (1, 1) for d in (lhs_dilation, rhs_dilation))
                 and feature_group_count == 1 and batch_group_count == 1 and precision is None
                 and preferred_element_type is None and lhs.dtype == rhs.dtype == jnp.float32)
    if not rewritten:
        return lax.conv_general_dilated(lhs, rhs, *args)
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(lhs.shape[1:3], rhs.shape[:2], (1, 1), padding)
    pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    if min(min(p) for p in pads) < 0:   # negative padding crops: left to XLA
        return lax.conv_general_dilated(lhs, rhs, *args)
    return lax.platform_dependent(lhs, rhs, cpu=lambda x, k: _conv(x, k, pads),
                                  default=lambda x, k: lax.conv_general_dilated(x, k, *args))


Conv = functools.partial(nn.Conv, conv_general_dilated=conv_general_dilated)

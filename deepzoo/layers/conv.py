"""Convolution and pooling from scratch: small pure jax.numpy functions, as in d2l.ai's chapter 7.

Layout is channels-first and unbatched, as in the from-scratch code of Zhang et al., Dive into Deep Learning
(sections 7.2-7.5): one channel (H, W), several (C, H, W), kernels (kh, kw), (C_in, kh, kw) or
(C_out, C_in, kh, kw). All functions compute a cross-correlation (the kernel is not flipped), which is what
deep learning calls "convolution".

Output size along each axis, for input n, kernel (or window) k, zero padding p on EACH side, stride s:

    out = floor((n - k + 2p) / s) + 1

(d2l, section 7.3, writes p_h, p_w for the total padding of an axis, i.e. our 2p.) Each output pixel is computed at
once for the whole image: the only Python loop runs over the kh * kw kernel offsets, each adding one
strided slice of the padded input times one kernel weight. The models use flax.linen.Conv; these
functions are for teaching and as an independent check of it.
"""
import operator

import jax
import jax.numpy as jnp


def _pair(value, name: str) -> tuple[int, int]:
    """An int or a pair of ints -> (rows, cols)."""
    try:
        pair = (value, value) if jnp.ndim(value) == 0 else tuple(value)
        pair = tuple(operator.index(v) for v in pair)  # Python or NumPy ints, not floats
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints (rows, cols); got {value!r}.")
    return pair


def _check_rank(a, rank: int, what: str, layout: str):
    if jnp.ndim(a) != rank:
        raise ValueError(f"{what} must have {rank} axes {layout}; got shape {tuple(jnp.shape(a))}.")


def output_size(n: int, k: int, padding: int = 0, stride: int = 1) -> int:
    """floor((n - k + 2p) / s) + 1: output length along one axis."""
    return (n - k + 2 * padding) // stride + 1


def _check_geometry(in_hw, k_hw, padding, stride, what: str = "kernel"):
    """Validates padding and stride; returns them as pairs and the output (height, width)."""
    padding, stride = _pair(padding, "padding"), _pair(stride, "stride")
    if min(stride) <= 0:
        raise ValueError(f"stride must be positive; got {stride}.")
    if min(padding) < 0:
        raise ValueError(f"padding must be non-negative; got {padding}.")
    if min(k_hw) <= 0:
        raise ValueError(f"{what} must be at least 1x1; got {tuple(k_hw)}.")
    padded = tuple(n + 2 * p for n, p in zip(in_hw, padding))
    if any(k > n for k, n in zip(k_hw, padded)):
        raise ValueError(f"{what} {tuple(k_hw)} is larger than the padded input {padded} "
                         f"(input {tuple(in_hw)}, padding {padding} on each side); "
                         f"use a smaller {what} or more padding.")
    out = tuple(output_size(n, k, p, s) for n, k, p, s in zip(in_hw, k_hw, padding, stride))
    return padding, stride, out


def _windows(xp, k_hw, stride, out_hw):
    """Yields ((i, j), slice of xp) for every kernel offset: the input pixels that offset (i, j) of
    the kernel sees, for all output pixels at once."""
    (kh, kw), (sh, sw), (oh, ow) = k_hw, stride, out_hw
    for i in range(kh):
        for j in range(kw):
            yield (i, j), xp[..., i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw]


def corr2d(x, k, *, padding=(0, 0), stride=(1, 1)):
    """2-D cross-correlation of one channel: Y[a, b] = sum_{i,j} Xpad[a*sh + i, b*sw + j] * K[i, j].

    x: (H, W); k: (kh, kw); padding: zeros added on each side (rows, cols); stride: (rows, cols).
    Returns (floor((H - kh + 2ph) / sh) + 1, floor((W - kw + 2pw) / sw) + 1).
    """
    x, k = jnp.asarray(x), jnp.asarray(k)
    _check_rank(x, 2, "corr2d input x", "(height, width)")
    _check_rank(k, 2, "corr2d kernel k", "(kh, kw)")
    padding, stride, out_hw = _check_geometry(x.shape, k.shape, padding, stride)
    xp = jnp.pad(x, ((padding[0], padding[0]), (padding[1], padding[1])))
    y = jnp.zeros(out_hw, jnp.result_type(x, k))
    for (i, j), window in _windows(xp, k.shape, stride, out_hw):
        y = y + k[i, j] * window
    return y


def corr2d_multi_in(x, k, *, padding=(0, 0), stride=(1, 1)):
    """Several input channels, one output channel: Y = sum_c corr2d(X[c], K[c]).

    x: (C_in, H, W); k: (C_in, kh, kw). Returns (out_h, out_w), sizes as in `corr2d`.
    """
    x, k = jnp.asarray(x), jnp.asarray(k)
    _check_rank(x, 3, "corr2d_multi_in input x", "(channels, height, width)")
    _check_rank(k, 3, "corr2d_multi_in kernel k", "(in_channels, kh, kw)")
    if x.shape[0] != k.shape[0]:
        raise ValueError(f"channel mismatch: the kernel expects {k.shape[0]} input channel(s) "
                         f"(k shape {tuple(k.shape)}) but x has {x.shape[0]} (x shape {tuple(x.shape)}).")
    _check_geometry(x.shape[1:], k.shape[1:], padding, stride)  # fail here, not inside vmap
    per_channel = jax.vmap(lambda xc, kc: corr2d(xc, kc, padding=padding, stride=stride))(x, k)
    return per_channel.sum(axis=0)


def corr2d_multi_in_out(x, k, *, padding=(0, 0), stride=(1, 1)):
    """Several input and output channels: Y[o] = corr2d_multi_in(X, K[o]), one 3-D kernel per output.

    x: (C_in, H, W); k: (C_out, C_in, kh, kw). Returns (C_out, out_h, out_w), sizes as in `corr2d`.
    """
    x, k = jnp.asarray(x), jnp.asarray(k)
    _check_rank(x, 3, "corr2d_multi_in_out input x", "(channels, height, width)")
    _check_rank(k, 4, "corr2d_multi_in_out kernel k", "(out_channels, in_channels, kh, kw)")
    if x.shape[0] != k.shape[1]:
        raise ValueError(f"channel mismatch: the kernel expects {k.shape[1]} input channel(s) "
                         f"(k shape {tuple(k.shape)}, axis 1) but x has {x.shape[0]} "
                         f"(x shape {tuple(x.shape)}).")
    _check_geometry(x.shape[1:], k.shape[2:], padding, stride)
    return jax.vmap(lambda ko: corr2d_multi_in(x, ko, padding=padding, stride=stride))(k)


def corr2d_multi_in_out_1x1(x, k):
    """A 1x1 convolution is a dense layer over channels applied at every pixel: Y = W @ X as matrices.

    x: (C_in, H, W); k: (C_out, C_in, 1, 1) or (C_out, C_in). Returns (C_out, H, W)
    (with k = 1 and no padding or stride, out = n).
    """
    x, k = jnp.asarray(x), jnp.asarray(k)
    _check_rank(x, 3, "corr2d_multi_in_out_1x1 input x", "(channels, height, width)")
    if jnp.ndim(k) == 4:
        if k.shape[2:] != (1, 1):
            raise ValueError(f"corr2d_multi_in_out_1x1 needs a 1x1 kernel; got k shape {tuple(k.shape)}.")
        k = k[:, :, 0, 0]
    _check_rank(k, 2, "corr2d_multi_in_out_1x1 kernel k", "(out_channels, in_channels) or (C_out, C_in, 1, 1)")
    c_in, h, w = x.shape
    if k.shape[1] != c_in:
        raise ValueError(f"channel mismatch: the kernel expects {k.shape[1]} input channel(s) "
                         f"(k shape {tuple(k.shape)}, axis 1) but x has {c_in} (x shape {tuple(x.shape)}).")
    y = k @ x.reshape(c_in, h * w)  # each pixel is a column: (C_out, C_in) @ (C_in, H*W)
    return y.reshape(k.shape[0], h, w)


def pool2d(x, window, *, mode: str = "max", padding=(0, 0), stride=None):
    """Max or average pooling over each channel separately (no parameters, C_out = C_in).

    x: (H, W) or (C, H, W); window: int or (kh, kw); stride defaults to the window (non-overlapping
    windows), padding is added on each side. Output sizes as in `corr2d`: floor((n - k + 2p) / s) + 1.

    Padding convention (that of d2l / PyTorch MaxPool2d and AvgPool2d(count_include_pad=True), and
    of flax.linen.max_pool / avg_pool):
    - max: padded cells hold -inf (the dtype's minimum for integers), so they never win a max;
    - avg: padded cells count as zeros, the divisor is always kh * kw, even at the border.
    Padding must be smaller than the window, so every window covers at least one real pixel.
    """
    if mode not in ("max", "avg"):
        raise ValueError(f"pool2d mode must be 'max' or 'avg'; got {mode!r}.")
    x = jnp.asarray(x)
    if x.ndim not in (2, 3):
        raise ValueError(f"pool2d input x must have shape (height, width) or (channels, height, width); "
                         f"got shape {tuple(jnp.shape(x))}.")
    k_hw = _pair(window, "window")
    padding, stride, out_hw = _check_geometry(x.shape[-2:], k_hw, padding,
                                              k_hw if stride is None else stride, what="window")
    if any(p >= k for p, k in zip(padding, k_hw)):
        raise ValueError(f"pool2d padding {padding} must be smaller than the window {k_hw}: "
                         f"otherwise some windows contain only padding.")
    if mode == "max":
        dtype = x.dtype
        fill = -jnp.inf if jnp.issubdtype(dtype, jnp.inexact) else jnp.iinfo(dtype).min
    else:
        dtype = jnp.result_type(x.dtype, jnp.float32) if jnp.issubdtype(x.dtype, jnp.integer) else x.dtype
        fill = 0
    pad = ((0, 0),) * (x.ndim - 2) + ((padding[0], padding[0]), (padding[1], padding[1]))
    xp = jnp.pad(x.astype(dtype), pad, constant_values=fill)
    windows = [w for _, w in _windows(xp, k_hw, stride, out_hw)]
    if mode == "max":
        return jnp.max(jnp.stack(windows), axis=0)
    return sum(windows) / (k_hw[0] * k_hw[1])

"""Image quality as super-resolution papers report it: PSNR and SSIM on the luminance channel, a border of
`scale` pixels left out (Ledig et al. 2017, section 3.2, after the benchmark code of Huang et al. 2015).

    luminance   Y of ITU-R BT.601 for RGB in [0, 1], as MATLAB's rgb2ycbcr: (16 + 65.481 R + 128.553 G + 24.966 B) / 255
    psnr        10 log10(1 / MSE) per image, pixels in [0, 1] (peak 1)
    ssim        Wang et al. (2004): means, variances and covariance under an 11 x 11 Gaussian window (sigma 1.5),
                K1 = 0.01, K2 = 0.03, averaged over the positions where the window fits in the image
All take (B, H, W, C) float images and return one value per image, (B,).
"""
import jax
import jax.numpy as jnp

WINDOW, SIGMA, K1, K2 = 11, 1.5, 0.01, 0.03


def luminance(rgb):
    """(..., 3) RGB in [0, 1] -> (..., 1) Y in [16/255, 235/255]."""
    return (16.0 + rgb @ jnp.array([65.481, 128.553, 24.966])[:, None]) / 255.0


def shave(images, border: int):
    """(B, H, W, C) without `border` pixels on each side."""
    return images[:, border:images.shape[1] - border, border:images.shape[2] - border] if border else images


def psnr(a, b):
    """(B,) peak signal-to-noise ratio in dB of images in [0, 1]; inf where they are equal."""
    mse = jnp.mean(jnp.square(a.astype(jnp.float32) - b.astype(jnp.float32)), axis=(1, 2, 3))
    return -10.0 * jnp.log10(mse)


def _gaussian_filter(x):
    """(B, H, W, 1) -> (B, H - 10, W - 10, 1): the normalised 11 x 11 Gaussian, where it fits (separable)."""
    t = jnp.arange(WINDOW, dtype=jnp.float32) - WINDOW // 2
    g = jnp.exp(-t ** 2 / (2 * SIGMA ** 2))
    g = g / g.sum()
    dims = ("NHWC", "HWIO", "NHWC")
    x = jax.lax.conv_general_dilated(x, g.reshape(WINDOW, 1, 1, 1), (1, 1), "VALID", dimension_numbers=dims)
    return jax.lax.conv_general_dilated(x, g.reshape(1, WINDOW, 1, 1), (1, 1), "VALID", dimension_numbers=dims)


def ssim(a, b):
    """(B,) structural similarity of single-channel images (B, H, W, 1) in [0, 1] (module docstring)."""
    if a.shape[-1] != 1 or min(a.shape[1:3]) < WINDOW:
        raise ValueError(f"ssim takes one channel (use luminance) and at least {WINDOW} x {WINDOW} pixels; got "
                         f"images of shape {tuple(a.shape)}.")
    a, b = a.astype(jnp.float32), b.astype(jnp.float32)
    mean_a, mean_b = _gaussian_filter(a), _gaussian_filter(b)
    var_a = _gaussian_filter(a * a) - mean_a ** 2
    var_b = _gaussian_filter(b * b) - mean_b ** 2
    cov = _gaussian_filter(a * b) - mean_a * mean_b
    c1, c2 = K1 ** 2, K2 ** 2                     # (K L)^2 with L = 1
    index = ((2 * mean_a * mean_b + c1) * (2 * cov + c2)) / ((mean_a ** 2 + mean_b ** 2 + c1) * (var_a + var_b + c2))
    return jnp.mean(index, axis=(1, 2, 3))


def y_psnr_ssim(a, b, border: int):
    """(psnr (B,), ssim (B,)) of RGB images in [0, 1] on their luminance, `border` pixels shaved off."""
    ya, yb = shave(luminance(a), border), shave(luminance(b), border)
    return psnr(ya, yb), ssim(ya, yb)

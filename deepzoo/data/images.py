"""ImageNet-style preprocessing on the host, in NumPy and PIL (no TensorFlow), uint8 in and out.

Training: Inception-style random-resized crop (Szegedy et al. 2015: 8%-100% of the area, aspect ratio
3/4-4/3) and a horizontal flip. Evaluation: resize the shorter side to size / 0.875 (256 for 224),
then a central crop. Images stay uint8 until they are on the device, where the task subtracts the
per-channel mean and divides by the deviation (task kwargs input_mean / input_std): a quarter of the
bytes of float32 cross the wire.
"""
import math

import numpy as np
from PIL import Image

# ImageNet per-channel statistics of the training set (RGB), on the 0-255 scale of uint8 pixels.
IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
EVAL_CROP_FRACTION = 0.875


def _resize(image: np.ndarray, size: tuple[int, int], box=None) -> np.ndarray:
    """Bilinear resize of the `box` (left, top, right, bottom) of an HxWxC uint8 image to (h, w)."""
    squeeze = image.shape[-1] == 1
    pil = Image.fromarray(image[..., 0] if squeeze else image)
    out = np.asarray(pil.resize((size[1], size[0]), Image.BILINEAR, box=box))
    return out[..., None] if squeeze else out


def random_crop_box(height: int, width: int, rng: np.random.Generator, scale=(0.08, 1.0),
                    ratio=(3 / 4, 4 / 3), attempts: int = 10) -> tuple[int, int, int, int]:
    """(top, left, h, w) covering a random fraction `scale` of the area with aspect ratio in `ratio`
    (log-uniform); after `attempts` misses, the largest central crop within `ratio` (as torchvision)."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(attempts):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        h, w = height, round(height * ratio[1])
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def train_transform(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Random-resized crop to size x size and a random horizontal flip."""
    top, left, h, w = random_crop_box(image.shape[0], image.shape[1], rng)
    out = _resize(image, (size, size), box=(left, top, left + w, top + h))
    return out[:, ::-1] if rng.random() < 0.5 else out


def eval_transform(image: np.ndarray, size: int, crop_fraction: float = EVAL_CROP_FRACTION) -> np.ndarray:
    """Resize the shorter side to size / crop_fraction, then crop the central size x size."""
    height, width = image.shape[:2]
    shorter = round(size / crop_fraction)
    scale = shorter / min(height, width)
    h, w = max(size, round(height * scale)), max(size, round(width * scale))
    resized = _resize(image, (h, w))
    top, left = (h - size) // 2, (w - size) // 2
    return resized[top:top + size, left:left + size]


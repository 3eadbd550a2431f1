"""Overlapping digit pairs: Sabour, Frosst & Hinton (2017)'s MultiMNIST, made from the 5,000 MNIST digits.

Each example overlays two digits of different classes on a 36 x 36 canvas, each shifted by up to 4 pixels in each
direction (uniform integers), pixel-wise maximum where they overlap; it keeps both labels and each shifted digit
alone, the targets of the capsule network's separate reconstructions. Pairs of the training split use its
training digits only, the test pairs its test digits. Deterministic in the seed.
"""
import numpy as np

SHIFT = 4
SPLITS = {"train": (20_000, 0), "test": (2_000, 1)}   # pairs, seed


def overlapping_pairs(images: np.ndarray, labels: np.ndarray, num_pairs: int, *, shift: int = SHIFT,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """images uint8 (N, H, W, 1), labels (N,) -> {"input": uint8 (n, H + 2 shift, W + 2 shift, 1), "labels": int32
    (n, 2), "first", "second": each digit alone on the canvas}."""
    if len(np.unique(labels)) < 2:
        raise ValueError("overlapping pairs need digits of at least two classes.")
    rng = np.random.default_rng(seed)
    n, (h, w) = num_pairs, images.shape[1:3]
    size = (h + 2 * shift, w + 2 * shift)
    first = rng.integers(0, len(images), n)
    second = rng.integers(0, len(images), n)
    while (clash := labels[first] == labels[second]).any():   # two different classes, as the paper
        second[clash] = rng.integers(0, len(images), int(clash.sum()))
    canvases = {}
    for name, picks in (("first", first), ("second", second)):
        canvas = np.zeros((n, *size, images.shape[-1]), np.uint8)
        dy, dx = rng.integers(0, 2 * shift + 1, (2, n))
        for i in range(n):
            canvas[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w] = images[picks[i]]
        canvases[name] = canvas
    return {"input": np.maximum(canvases["first"], canvases["second"]),
            "labels": np.stack([labels[first], labels[second]], 1).astype(np.int32), **canvases}


def load(name: str, split: str) -> dict[str, np.ndarray]:
    """"multi_mnist5k": pairs of the mnist5k split's digits (SPLITS), pixels in [0, 1] as mnist5k's."""
    from deepzoo.data import sources   # sources imports this module

    if split not in SPLITS:
        raise ValueError(f"{name} has splits {', '.join(SPLITS)}, not {split!r}.")
    digits = sources.load("mnist5k", split)
    images = np.round(digits.arrays["input"] * 255).astype(np.uint8)
    num_pairs, seed = SPLITS[split]
    pairs = overlapping_pairs(images, digits.arrays["label"], num_pairs, seed=seed)
    return {k: v.astype(np.float32) / 255 if v.dtype == np.uint8 else v for k, v in pairs.items()}

"""Augmentation of in-memory image splits, drawn per example from (seed, stream position) so that a
resumed run, or a trial of a sweep, sees exactly the images an uninterrupted run alone would see.

    crop_flip   random crops of the image zero-padded by 4 pixels, and horizontal flips with
                probability 1/2: the CIFAR-10 augmentation of He et al. 2016 and Nakkiran et al. 2019
    shift       shifts of up to 2 pixels in each direction, zero-padded: the MNIST augmentation of Sabour,
                Frosst & Hinton 2017 (capsule networks)
"""
import numpy as np

KINDS = {"crop_flip": dict(pad=4, flip=True), "shift": dict(pad=2, flip=False)}
_STREAM = 0xA06   # augmentation's random stream, beside (seed, position)


class CropFlip:
    """Wraps a source of (N, H, W, C) inputs; reads with `seeds` (training) are augmented."""

    def __init__(self, source, pad: int = 4, flip: bool = True):
        self.source, self.pad, self.flip = source, pad, flip
        self.num_classes = source.num_classes

    def __len__(self):
        return len(self.source)

    def read(self, indices, seeds=None) -> dict:
        """The source's examples at `indices`. With `seeds` (one per example: training reads) each
        image is a random crop of itself zero-padded by `pad` pixels, flipped horizontally with probability 1/2
        (if `flip`), both drawn from its seed; without, the images as they are."""
        batch = self.source.read(indices)
        if seeds is None:  # evaluation reads: the images as they are
            return batch
        images, p = batch["input"], self.pad
        n, h, w, _ = images.shape
        padded = np.pad(images, ((0, 0), (p, p), (p, p), (0, 0)))
        out = np.empty_like(images)
        for i, seed in enumerate(seeds):
            rng = np.random.default_rng([*seed, _STREAM])
            top, left = rng.integers(0, 2 * p + 1, 2)
            crop = padded[i, top:top + h, left:left + w]
            out[i] = crop[:, ::-1] if self.flip and rng.random() < 0.5 else crop
        return {**batch, "input": out}


def augmented(source, kind: str):
    """`source` with augmentation `kind` ('' for none) applied to its training reads."""
    if not kind:
        return source
    if kind not in KINDS:
        raise ValueError(f"unknown config.dataset.augmentation={kind!r}; known: '' (none), {', '.join(KINDS)}.")
    inputs = source.read(np.arange(1))["input"]
    if inputs.ndim != 4:
        raise ValueError(f"augmentation {kind!r} crops images (N, H, W, C); this dataset's inputs have shape "
                         f"{inputs.shape[1:]} per example.")
    return CropFlip(source, **KINDS[kind])

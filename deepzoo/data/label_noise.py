"""Label noise (deep double descent), a pure function of a seed: config.dataset.label_noise.

Nakkiran et al. 2019 corrupt a fraction p of the training labels; here exactly round(p n) examples of
the subset, chosen at random, get a label drawn uniformly from the *other* classes, so that p is the
fraction of wrong labels (redrawing from all classes would leave p / num_classes of them right).
"""
import numpy as np

_STREAM = 0x1AB   # the random stream of label noise, beside the seed: np.random.default_rng([seed, _STREAM])


def noisy_labels(labels: np.ndarray, fraction: float, num_classes: int, seed: int,
                 indices: np.ndarray | None = None) -> np.ndarray:
    """A copy of `labels` in which round(fraction * len(indices)) of the examples at `indices` (all by
    default) carry a different class, drawn uniformly; the rest are untouched."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"label_noise={fraction} must be a fraction in [0, 1] (0.15 for 15%).")
    if num_classes < 2:
        raise ValueError(f"label noise needs at least 2 classes, got num_classes={num_classes}.")
    labels = np.asarray(labels).copy()
    indices = np.arange(len(labels)) if indices is None else np.asarray(indices)
    rng = np.random.default_rng([seed, _STREAM])
    chosen = rng.choice(indices, int(round(fraction * len(indices))), replace=False)
    labels[chosen] = (labels[chosen] + rng.integers(1, num_classes, len(chosen))) % num_classes
    return labels


def with_label_noise(source, fraction: float, seed: int):
    """An in-memory classification source whose labels carry `fraction` of noise drawn with `seed`."""
    if "label" not in getattr(source, "arrays", {}):
        raise ValueError("config.dataset.label_noise needs an in-memory classification split: set "
                         "--config.dataset.cache=True (and use a dataset with labels).")
    classes = source.num_classes or int(source.arrays["label"].max()) + 1
    labels = noisy_labels(source.arrays["label"], fraction, classes, seed)
    return type(source)({**source.arrays, "label": labels}, source.num_classes)

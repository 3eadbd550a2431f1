"""Generated shapes whose factors are known, in the manner of dSprites (Matthey et al. 2017): one white shape on
black, rendered from five factors, for learning and measuring disentangled codes (Kulkarni et al. 2015, "Deep
convolutional inverse graphics network", whose training needs mini-batches in which one factor alone varies).

    factor     values
    shape      square, ellipse, heart (0, 1, 2)
    scale      0.5 .. 1 of the largest size
    rotation   -40 .. 40 degrees (unique for all three shapes: the square repeats every 90, the ellipse every 180)
    x, y       the centre, 0 .. 1 across the free space of the image
Each image is SIZE x SIZE, grey levels in [0, 1], anti-aliased by 4 x 4 supersampling. The continuous factors are
drawn uniformly; "factors" holds all five per image, scaled to [0, 1] (shape / 2).

The named dataset "shapes" (`load("shapes", split)`) holds groups of GROUP images in which one factor varies and
the others are fixed: "input" (n, GROUP, SIZE, SIZE, 1), "factors" (n, GROUP, 5) and "factor" (n,) which one
varies (each as often). Splits "train" (6,000 groups), "validation" and "test" (600 each), deterministic in their
seeds.
"""
import numpy as np

FACTORS = ("shape", "scale", "rotation", "x", "y")
SHAPES = ("square", "ellipse", "heart")
SIZE = 32
GROUP = 8
SUPERSAMPLE = 4
MAX_ROTATION = np.deg2rad(40.0)
SPLITS = {"train": (6_000, 0), "validation": (600, 1), "test": (600, 2)}   # groups, seed


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether the points (u, v) of the shape's own frame (unit size, y up) are inside shape 0, 1 or 2."""
    if shape == 0:
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == 1:
        return u ** 2 + (v / 0.55) ** 2 <= 1.0
    hu, hv = u / 0.85, v / 0.85 + 0.1                       # the heart curve (x^2 + y^2 - 1)^3 <= x^2 y^3
    return (hu ** 2 + hv ** 2 - 1) ** 3 <= hu ** 2 * hv ** 3


def render(factors: np.ndarray, size: int = SIZE, chunk: int = 256) -> np.ndarray:
    """factors (n, 5) in [0, 1] (FACTORS; shape as 0, 0.5, 1) -> images float32 (n, size, size, 1) in [0, 1]."""
    if len(factors) > chunk:     # the supersampled grids of a chunk take ~0.5 GB
        return np.concatenate([render(factors[i:i + chunk], size, chunk) for i in range(0, len(factors), chunk)])
    shape = np.rint(factors[:, 0] * 2).astype(int)
    scale = 0.5 + 0.5 * factors[:, 1]
    angle = (2 * factors[:, 2] - 1) * MAX_ROTATION
    radius = size * 0.22 * scale                          # pixels from the centre to the unit frame's edge
    margin = size * 0.22 * 1.2                            # any shape at full size fits inside this
    cx = margin + factors[:, 3] * (size - 2 * margin)
    cy = margin + factors[:, 4] * (size - 2 * margin)
    steps = ((np.arange(size * SUPERSAMPLE) + 0.5) / SUPERSAMPLE).astype(np.float32)
    py, px = np.meshgrid(steps, steps, indexing="ij")     # sample points in pixel units
    hits = np.zeros((len(factors), *px.shape), np.float32)
    for s in range(len(SHAPES)):
        i = np.flatnonzero(shape == s)
        column = lambda a: a[i, None, None].astype(np.float32)
        dx, dy = (px[None] - column(cx)) / column(radius), -(py[None] - column(cy)) / column(radius)
        cos, sin = column(np.cos(angle)), column(np.sin(angle))
        hits[i] = _inside(s, cos * dx + sin * dy, -sin * dx + cos * dy)   # the points in the shape's frame
    images = hits.reshape(len(factors), size, SUPERSAMPLE, size, SUPERSAMPLE).mean((2, 4))
    return images[..., None]


def groups(num_groups: int, *, group: int = GROUP, seed: int = 0) -> dict[str, np.ndarray]:
    """Groups of `group` images in which one factor varies (the module docstring): "input", "factors", "factor"."""
    rng = np.random.default_rng(seed)
    varying = np.arange(num_groups) % len(FACTORS)
    rng.shuffle(varying)
    factors = np.repeat(rng.random((num_groups, 1, len(FACTORS))), group, axis=1)   # fixed within a group
    factors[:, :, 0] = rng.integers(0, len(SHAPES), (num_groups, 1)) / 2
    fresh = rng.random((num_groups, group))
    rows = np.arange(num_groups)
    shapes = rng.integers(0, len(SHAPES), (num_groups, group)) / 2
    factors[rows, :, varying] = np.where(varying[:, None] == 0, shapes, fresh)
    images = render(factors.reshape(-1, len(FACTORS))).reshape(num_groups, group, SIZE, SIZE, 1)
    return {"input": images, "factors": factors.astype(np.float32), "factor": varying.astype(np.int32)}


def load(name: str, split: str) -> dict[str, np.ndarray]:
    """"shapes": the split's groups (SPLITS)."""
    if split not in SPLITS:
        raise ValueError(f"{name} has splits {', '.join(SPLITS)}, not {split!r}.")
    num_groups, seed = SPLITS[split]
    return groups(num_groups, seed=seed)

"""Photographs for super-resolution, from the ones scikit-image and scikit-learn ship inside their packages (no
download): high-resolution crops and their bicubic 4x reductions, as Ledig et al. (2017) made their training pairs.

The photographs of the test split are never cut into training crops. Test: astronaut, chelsea (a cat), coffee and
flower, four colour photographs of the kind of Set5/Set14 (a face, an animal, objects, a flower). Train: seven
colour photographs (a palace, a rocket, the Hubble deep field, a stained tissue, a retina, a stereo pair of a
motorcycle) and seven grey ones (the cameraman, bricks, grass, gravel, the moon, coins, a clock) repeated over
three channels. Low-resolution images are the high-resolution ones reduced 4x by PIL's bicubic filter (an
antialiased reduction like MATLAB's imresize, the papers' tool) and stored as 8-bit, as image files are.

    load("photos_x4", "train")   {"input": (8000, 12, 12, 3), "target": (8000, 48, 48, 3)}  random crops
    load("photos_x4", "test")    {"input": (85, 24, 24, 3), "target": (85, 96, 96, 3)}      the test photos' tiles
float32 pixels in [0, 1].
The crops are 48 x 48 (the paper's are 96 x 96: a quarter of the cost per crop on 2 CPU cores); crops flat enough
to teach nothing (pixel standard deviation under 0.02) are drawn again. Deterministic.
"""
import functools

import numpy as np

SCALE = 4
TRAIN = {"colour": ("china", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "motorcycle_left",
                    "motorcycle_right"),
         "grey": ("camera", "brick", "grass", "gravel", "moon", "coins", "clock")}
TEST = ("astronaut", "chelsea", "coffee", "flower")
CROPS = {"train": (8000, 48), "test": (0, 96)}     # split: (number of crops (0: tiles of every photo), size)
MIN_STD = 0.02


@functools.cache
def photograph(name: str) -> np.ndarray:
    """The named photograph, uint8 (H, W, 3)."""
    import skimage.data
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image
        image = load_sample_image(f"{name}.jpg")
    elif name.startswith("motorcycle_"):
        left, right, _ = skimage.data.stereo_motorcycle()
        image = left if name.endswith("left") else right
    else:
        image = getattr(skimage.data, name)()
    image = np.asarray(image, np.uint8)
    return np.repeat(image[..., None], 3, -1) if image.ndim == 2 else image[..., :3]


def photographs(split: str) -> dict[str, np.ndarray]:
    """{name: uint8 (H, W, 3)} of the split's photographs, each cropped to a multiple of SCALE."""
    names = TEST if split == "test" else (*TRAIN["colour"], *TRAIN["grey"])
    out = {}
    for name in names:
        image = photograph(name)
        h, w = (s - s % SCALE for s in image.shape[:2])
        out[name] = image[:h, :w]
    return out


def reduce(images: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """uint8 (..., H, W, 3) -> uint8 (..., H / scale, W / scale, 3) by PIL's bicubic (antialiased) filter."""
    from PIL import Image
    h, w = images.shape[-3:-1]
    if h % scale or w % scale:
        raise ValueError(f"images of {h} x {w} pixels do not reduce by {scale}: crop them to a multiple of it.")
    flat = images.reshape(-1, h, w, 3)
    small = [np.asarray(Image.fromarray(x).resize((w // scale, h // scale), Image.BICUBIC)) for x in flat]
    return np.stack(small).reshape(*images.shape[:-3], h // scale, w // scale, 3)


def enlarge(images: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """uint8 (..., h, w, 3) -> uint8 (..., h scale, w scale, 3) by PIL's bicubic filter: the baseline."""
    from PIL import Image
    h, w = images.shape[-3:-1]
    flat = images.reshape(-1, h, w, 3)
    big = [np.asarray(Image.fromarray(x).resize((w * scale, h * scale), Image.BICUBIC)) for x in flat]
    return np.stack(big).reshape(*images.shape[:-3], h * scale, w * scale, 3)


def random_crops(images: list[np.ndarray], num: int, size: int, seed: int) -> np.ndarray:
    """uint8 (num, size, size, 3): the same number from each image, at uniform positions, redrawn when flat."""
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(num):
        image = images[i % len(images)]
        while True:
            y, x = rng.integers(0, image.shape[0] - size + 1), rng.integers(0, image.shape[1] - size + 1)
            crop = image[y:y + size, x:x + size]
            if crop.std() / 255 >= MIN_STD:
                break
        crops.append(crop)
    return np.stack(crops)


def tiles(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 (n, size, size, 3): the image's non-overlapping size x size tiles, row by row (the rest is left out)."""
    rows, cols = image.shape[0] // size, image.shape[1] // size
    return image[:rows * size, :cols * size].reshape(rows, size, cols, size, 3).swapaxes(1, 2).reshape(-1, size, size, 3)


def load(name: str, split: str) -> dict[str, np.ndarray]:
    """"photos_x4": {"input": low-resolution crops, "target": their high-resolution originals}, float32 in [0, 1]."""
    if split not in CROPS:
        raise ValueError(f"{name} has splits {', '.join(CROPS)}; got {split!r}.")
    num, size = CROPS[split]
    images = list(photographs(split).values())
    high = random_crops(images, num, size, seed=0) if num else np.concatenate([tiles(x, size) for x in images])
    return {"input": reduce(high).astype(np.float32) / 255, "target": high.astype(np.float32) / 255}

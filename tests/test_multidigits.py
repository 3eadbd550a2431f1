"""MultiMNIST pairs: each digit alone is its image shifted by at most 4 pixels, the input their maximum, the two
classes different, the pairs deterministic."""
import numpy as np

from deepzoo.data.multidigits import overlapping_pairs


def test_overlapping_pairs_keep_each_shifted_digit_and_overlay_them():
    rng = np.random.default_rng(0)
    images = (rng.random((12, 6, 6, 1)) * 255).astype(np.uint8)
    labels = np.arange(12) % 3
    pairs = overlapping_pairs(images, labels, 40, shift=2, seed=5)
    assert pairs["input"].shape == (40, 10, 10, 1) and (pairs["labels"][:, 0] != pairs["labels"][:, 1]).all()
    np.testing.assert_array_equal(pairs["input"], np.maximum(pairs["first"], pairs["second"]))
    for i in range(40):
        for k, name in enumerate(("first", "second")):
            rows, cols = np.nonzero(pairs[name][i, ..., 0] > 0)
            top, left = rows.min(), cols.min()        # random images have no empty border row or column
            assert 0 <= top <= 4 and 0 <= left <= 4
            digit = pairs[name][i, top:top + 6, left:left + 6]
            matches = [j for j in range(12) if np.array_equal(images[j], digit)]
            assert matches and labels[matches[0]] == pairs["labels"][i, k]
    again = overlapping_pairs(images, labels, 40, shift=2, seed=5)
    np.testing.assert_array_equal(again["input"], pairs["input"])

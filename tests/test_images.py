"""ImageNet-style preprocessing on the host: crops, flips, centre crops, uint8 on the wire, determinism."""
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from deepzoo import data, tasks
from deepzoo.data import images


@pytest.mark.parametrize("seed", range(20))
def test_random_crop_box_respects_area_and_aspect_ranges(seed):
    top, left, h, w = images.random_crop_box(375, 500, np.random.default_rng(seed))
    assert 0 <= top and top + h <= 375 and 0 <= left and left + w <= 500
    # torchvision's sampling: area within 8%..100% and aspect within 3/4..4/3, up to rounding.
    assert 0.08 * 0.95 <= h * w / (375 * 500) <= 1.0
    assert 3 / 4 * 0.95 <= w / h <= 4 / 3 * 1.05


def test_random_crop_box_falls_back_to_a_central_crop():
    # A 10x1000 strip: no 3/4..4/3 box covers 8% of it, so the largest central box within ratio is used.
    top, left, h, w = images.random_crop_box(10, 1000, np.random.default_rng(0))
    assert (h, w) == (10, 13) and top == 0 and left == (1000 - 13) // 2


def test_train_transform_crops_flips_and_is_deterministic_per_seed():
    ramp = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (48, 1, 3))  # brighter to the right
    crops = [images.train_transform(ramp, 16, np.random.default_rng(s)) for s in range(16)]
    assert all(c.shape == (16, 16, 3) and c.dtype == np.uint8 for c in crops)
    increasing = [int(c[8, -1, 0]) > int(c[8, 0, 0]) for c in crops]
    assert any(increasing) and not all(increasing)  # some crops are flipped, some are not
    np.testing.assert_array_equal(crops[3], images.train_transform(ramp, 16, np.random.default_rng(3)))


def test_eval_transform_resizes_the_shorter_side_then_crops_the_centre():
    # 512x384 -> shorter side 224/0.875 = 256 -> 341x256 -> central 224x224: a centred square of
    # side 100 px in the original spans 100 * 256/384 = 66.7 px in the crop, centred.
    image = np.zeros((512, 384, 3), np.uint8)
    image[206:306, 142:242] = 255
    crop = images.eval_transform(image, 224)
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    rows = np.flatnonzero(crop[:, 112, 0] > 127)
    cols = np.flatnonzero(crop[112, :, 0] > 127)
    for span in (rows, cols):
        assert abs(len(span) - 66.7) <= 2 and abs((span[0] + span[-1]) / 2 - 111.5) <= 1.5
    # A grayscale image keeps its single channel.
    assert images.eval_transform(np.zeros((40, 30, 1), np.uint8), 16).shape == (16, 16, 1)


def test_imagenet_through_mock_data_uint8_on_the_wire_and_same_crops_for_any_process_count():
    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        train = data.load("imagenet2012", "train", image_size=32, augment=True, cache=False)
        batch = next(data.train_batches(train, global_batch_size=8, seed=3, start_step=5))
        again = next(data.train_batches(train, global_batch_size=8, seed=3, start_step=5))
        halves = [next(data.train_batches(train, global_batch_size=8, seed=3, start_step=5,
                                          process_index=p, process_count=2)) for p in (0, 1)]
        evaluation = data.load("imagenet2012", "validation", image_size=32, cache=True)
        first = next(data.eval_batches(evaluation, global_batch_size=8))
    assert batch["input"].shape == (8, 32, 32, 3) and batch["input"].dtype == np.uint8
    assert train.num_classes == 1000 and batch["label"].dtype == np.int32
    np.testing.assert_array_equal(batch["input"], again["input"])
    np.testing.assert_array_equal(batch["input"], np.concatenate([h["input"] for h in halves]))
    assert first["input"].shape == (8, 32, 32, 3) and first["mask"].sum() == 8


def test_augmented_images_cannot_be_cached():
    with pytest.raises(ValueError, match="cache=False"):
        data.load("imagenet2012", "train", image_size=32, augment=True, cache=True)


def test_classification_normalises_uint8_pixels_on_the_device():
    pixels = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3)).astype(np.uint8)
    mean, std = images.IMAGENET_MEAN, images.IMAGENET_STD
    task = tasks.get("classification", input_mean=mean, input_std=std)
    seen = task.inputs({"input": jnp.asarray(pixels)})[0]
    expected = (pixels.astype(np.float64) - np.array(mean)) / np.array(std)
    assert seen.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(seen), expected, rtol=1e-5, atol=1e-5)
    assert tasks.get("classification").inputs({"input": pixels})[0] is pixels  # untouched without stats

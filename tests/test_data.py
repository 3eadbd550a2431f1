"""The data interface: order is a pure function of (seed, step), processes split each global batch,
eval covers every example once, TFDS datasets (mocked) and the offline ones load, errors say what to do."""
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from deepzoo import data


def toy_source(n=10):
    return data.ArraySource({"input": np.arange(n, dtype=np.float32)[:, None],
                             "label": np.arange(n, dtype=np.int32)})


def take(iterator, k):
    return [next(iterator) for _ in range(k)]


def test_each_epoch_is_a_permutation_and_epochs_differ():
    batches = take(data.train_batches(toy_source(10), global_batch_size=5, seed=0), 4)
    epochs = [np.concatenate([b["label"] for b in batches[i:i + 2]]) for i in (0, 2)]
    for epoch in epochs:
        assert sorted(epoch) == list(range(10))
    assert not np.array_equal(epochs[0], epochs[1])


def test_order_is_a_pure_function_of_seed_and_step():
    source = toy_source(10)
    straight = take(data.train_batches(source, global_batch_size=4, seed=3), 7)
    resumed = take(data.train_batches(source, global_batch_size=4, seed=3, start_step=5), 2)
    for a, b in zip(straight[5:], resumed):
        np.testing.assert_array_equal(a["label"], b["label"])
    other_seed = take(data.train_batches(source, global_batch_size=4, seed=4), 7)
    assert any(not np.array_equal(a["label"], b["label"]) for a, b in zip(straight, other_seed))


def test_prefetching_gives_the_same_batches():
    source = toy_source(10)
    plain = take(data.train_batches(source, global_batch_size=4, seed=0, start_step=2), 5)
    ahead = take(data.train_batches(source, global_batch_size=4, seed=0, start_step=2, prefetch=3), 5)
    for a, b in zip(plain, ahead):
        np.testing.assert_array_equal(a["label"], b["label"])


def test_processes_read_disjoint_rows_that_form_the_single_process_batch():
    source = toy_source(13)
    single = take(data.train_batches(source, global_batch_size=6, seed=0, process_index=0,
                                     process_count=1), 5)
    parts = [take(data.train_batches(source, global_batch_size=6, seed=0, process_index=p,
                                     process_count=3), 5) for p in range(3)]
    for step, batch in enumerate(single):
        joined = np.concatenate([parts[p][step]["label"] for p in range(3)])
        np.testing.assert_array_equal(joined, batch["label"])


def test_batch_not_divisible_by_processes_is_refused():
    with pytest.raises(ValueError, match="not divisible by the 4 processes"):
        data.train_batches(toy_source(), global_batch_size=6, seed=0, process_index=0, process_count=4)


@pytest.mark.parametrize("process_count", [1, 2])
def test_eval_covers_each_example_once_with_padding_masked(process_count):
    source = toy_source(11)
    seen = []
    for p in range(process_count):
        for batch in data.eval_batches(source, global_batch_size=4, process_index=p,
                                       process_count=process_count):
            assert len(batch["label"]) == 4 // process_count
            seen += list(batch["label"][batch["mask"] > 0])
    assert sorted(seen) == list(range(11))


def test_offline_mnist1d_loads_with_documented_shapes():
    train = data.load("mnist1d", "train")
    test = data.load("mnist1d", "test")
    assert (len(train), len(test)) == (4000, 1000)
    batch = train.read(np.arange(3))
    assert batch["input"].shape == (3, 40) and batch["input"].dtype == np.float32
    assert batch["label"].dtype == np.int32 and train.num_classes == 10


def test_record_source_equals_cached_source():
    cached = data.load("mnist1d", "test")
    records = data.load("mnist1d", "test", cache=False)
    idx = np.array([0, 17, 999])
    for key in ("input", "label"):
        np.testing.assert_array_equal(cached.read(idx)[key], records.read(idx)[key])


def test_tfds_dataset_through_mock_data():
    with tfds.testing.mock_data(num_examples=24, policy=tfds.testing.MockPolicy.USE_CODE):
        source = data.load("mnist", "train")
        assert len(source) == 24 and source.num_classes == 10
        batch = next(data.train_batches(source, global_batch_size=8, seed=0))
    assert batch["input"].shape == (8, 28, 28, 1) and batch["input"].dtype == np.float32
    assert 0.0 <= batch["input"].min() and batch["input"].max() <= 1.0  # uint8 pixels scaled


def test_unprepared_dataset_fails_at_once_saying_how_to_prepare(tmp_path):
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match=r"not prepared.*tfds build cifar10 --file_format=array_record"):
        data.load("cifar10", "train", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 10  # no network retries


def test_unknown_dataset_names_the_offline_ones(tmp_path):
    with pytest.raises(KeyError, match=r"unknown dataset 'mnist1e'.*digits, digits28, .*mnist1d, mnist5k"):
        data.load("mnist1e", "train", data_dir=str(tmp_path))


def test_get_is_load_then_train_batches():
    a = next(data.get("mnist1d", "train", global_batch_size=32, seed=1, start_step=7))
    b = next(data.train_batches(data.load("mnist1d", "train"), global_batch_size=32, seed=1, start_step=7))
    np.testing.assert_array_equal(a["input"], b["input"])
    assert a["input"].shape == (32, 40)


def test_crop_flip_is_a_pure_function_of_seed_and_position_and_evaluation_reads_are_plain():
    from deepzoo.data import augment
    images = np.arange(2 * 8 * 8 * 1, dtype=np.float32).reshape(2, 8, 8, 1)
    source = augment.augmented(data.ArraySource({"input": images, "label": np.array([0, 1])}, 2), "crop_flip")
    seeds = [(0, 5), (0, 6)]
    a, b = source.read(np.arange(2), seeds=seeds), source.read(np.arange(2), seeds=seeds)
    np.testing.assert_array_equal(a["input"], b["input"])
    np.testing.assert_array_equal(source.read(np.arange(2))["input"], images)   # no seeds: as stored
    # each augmented image is a window of its zero-padded original, flipped or not
    padded = np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)))
    for i, out in enumerate(a["input"]):
        windows = [padded[i, t:t + 8, l:l + 8] for t in range(9) for l in range(9)]
        assert any(np.array_equal(out, w) or np.array_equal(out, w[:, ::-1]) for w in windows)
    with pytest.raises(ValueError, match="unknown config.dataset.augmentation='flip'; known: '' \\(none\\), crop_flip"):
        augment.augmented(source, "flip")


def test_shift_moves_each_image_by_at_most_two_pixels_and_never_flips():
    from deepzoo.data import augment
    images = np.random.default_rng(0).random((64, 8, 8, 1)).astype(np.float32) + 1   # no zero pixel of its own
    source = augment.augmented(data.ArraySource({"input": images, "label": np.zeros(64, int)}, 1), "shift")
    out = source.read(np.arange(64), seeds=[(0, i) for i in range(64)])["input"]
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
    offsets = set()
    for i in range(64):
        found = [(t, l) for t in range(5) for l in range(5) if np.array_equal(out[i], padded[i, t:t + 8, l:l + 8])]
        assert len(found) == 1            # a shifted window, not a mirror image
        offsets.add(found[0])
    assert len(offsets) > 10              # the shifts vary

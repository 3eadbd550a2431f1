"""Named datasets as random-access sources of examples: TFDS ArrayRecord data read without TensorFlow.

Offline datasets (see builders.py) are prepared into the TFDS data dir on first use; any other TFDS
name must already be prepared there in ArrayRecord format (as on pods).
"""
import os

import jax
import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from jax.experimental import multihost_utils

from deepzoo.data import images
from deepzoo.data.builders import OFFLINE_BUILDERS

# How a record becomes the model input: (feature name, scale). Images are uint8 in [0, 255], except
# scikit-learn's digits, whose pixels count 0..16 ink dots.
_INPUTS = {"mnist1d": ("x", 1.0), "digits": ("image", 1 / 16)}
_DEFAULT_INPUT = ("image", 1 / 255)


def resolve_data_dir(path: str | None = None) -> str:
    return os.path.expanduser(path or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets")


class ArraySource:
    """A split held in memory as arrays; `read(indices)` gathers a batch with one fancy index."""

    def __init__(self, arrays: dict[str, np.ndarray], num_classes: int | None = None):
        lengths = {len(v) for v in arrays.values()}
        if len(lengths) != 1:
            raise ValueError(f"arrays have different lengths: { {k: len(v) for k, v in arrays.items()} }")
        self.arrays = arrays
        self.num_classes = num_classes

    def __len__(self):
        return len(next(iter(self.arrays.values())))

    def read(self, indices: np.ndarray, seeds=None) -> dict[str, np.ndarray]:
        return {k: v[indices] for k, v in self.arrays.items()}


class RecordSource:
    """A split read record by record from ArrayRecord files (for datasets too big to hold in memory)."""

    def __init__(self, records, to_example, num_classes: int | None = None):
        self.records, self.to_example, self.num_classes = records, to_example, num_classes

    def __len__(self):
        return len(self.records)

    def read(self, indices: np.ndarray, seeds=None) -> dict[str, np.ndarray]:
        rows = [self.records[int(i)] for i in indices]
        return self.to_example({k: np.stack([r[k] for r in rows]) for k in rows[0]})


class ImageSource:
    """Images of any size (e.g. ImageNet's decoded JPEGs) cropped to size x size uint8, one by one.

    With `augment`, read(indices, seeds) draws each example's random-resized crop and flip from its
    seed, which the pipeline derives from (config seed, stream position): the same step sees the same
    crops however many processes share it (no seeds: each record's own fixed crop). Without augment,
    every image gets the evaluation centre crop.
    """

    def __init__(self, records, key: str, size: int, augment: bool, num_classes: int | None = None):
        self.records, self.key, self.size, self.augment = records, key, size, augment
        self.num_classes = num_classes

    def __len__(self):
        return len(self.records)

    def read(self, indices: np.ndarray, seeds=None) -> dict[str, np.ndarray]:
        if seeds is None:  # a look at the data, not training: the same crop of a record every time
            seeds = [int(i) for i in indices]
        crops, labels = [], []
        for n, i in enumerate(indices):
            record = self.records[int(i)]
            image = record[self.key]
            if image.ndim != 3:
                raise ValueError(f"record {int(i)}: {self.key!r} has shape {image.shape}; ImageSource "
                                 f"expects (height, width, channels).")
            if self.augment:
                crops.append(images.train_transform(image, self.size, np.random.default_rng(seeds[n])))
            else:
                crops.append(images.eval_transform(image, self.size))
            labels.append(record["label"])
        return {"input": np.stack(crops), "label": np.asarray(labels, np.int32)}


def _prepare_offline(name: str, directory: str):
    """Process 0 prepares first, so that processes sharing a disk never write the same files;
    the others then find it prepared (or, on a disk of their own, prepare their copy)."""
    def prepare():
        builder = OFFLINE_BUILDERS[name](data_dir=directory, file_format="array_record")
        if not builder.is_prepared():
            logging.info("Preparing the offline dataset %r in %s (once).", name, directory)
            builder.download_and_prepare()

    if jax.process_index() == 0:
        prepare()
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(f"prepared {name}")
        if jax.process_index() > 0:
            prepare()


def _explain_failure(name: str, directory: str, error: Exception) -> Exception:
    """Turns TFDS's errors (or its silent network retries) into one that says what to do."""
    offline = ", ".join(sorted(OFFLINE_BUILDERS))
    try:
        builder = tfds.builder(name, data_dir=directory)
    except tfds.core.registered.DatasetNotFoundError:
        return KeyError(f"unknown dataset {name!r}: it is neither one of deepzoo's offline datasets "
                        f"({offline}) nor a TFDS dataset (see tfds.list_builders()).")
    if not builder.is_prepared():
        return FileNotFoundError(
            f"dataset {name!r} is not prepared in {directory}. Nothing is downloaded at run time: on a "
            f"machine with network access run `tfds build {name} --file_format=array_record "
            f"--data_dir={directory}` and copy the folder here, or point --config.dataset.data_dir "
            f"(or TFDS_DATA_DIR) at a prepared copy. Offline datasets that need no download: {offline}.")
    if builder.info.file_format != tfds.core.FileFormat.ARRAY_RECORD:
        return ValueError(
            f"dataset {name!r} in {directory} is prepared as {builder.info.file_format.value}, but deepzoo "
            f"reads ArrayRecord (random access, no TensorFlow): rebuild it with "
            f"`tfds build {name} --file_format=array_record --data_dir={directory}`.")
    return error


def load(name: str, split: str, *, data_dir: str | None = None, cache: bool = True,
         image_size: int = 0, augment: bool = False):
    """Returns the `split` of dataset `name` as a source of {"input": float32, "label": int32} examples.

    cache=True reads the split into memory once (small datasets: batches are then one numpy gather).
    image_size > 0 makes an ImageSource instead: uint8 size x size crops of images of any size, random
    (augment=True, for training) or central; the task normalises them on the device.
    """
    if image_size and augment and cache:
        raise ValueError("random crops are drawn afresh every epoch and cannot be cached: set "
                         "--config.dataset.cache=False when --config.dataset.image_size is set.")
    directory = resolve_data_dir(data_dir)
    if name in OFFLINE_BUILDERS:
        _prepare_offline(name, directory)
    try:
        records = tfds.data_source(name, split=split, data_dir=directory, download=False)
    except Exception as e:  # noqa: BLE001  (re-raised, explained)
        raise _explain_failure(name, directory, e) from e
    features = records.dataset_info.features
    key, scale = _INPUTS.get(name, _DEFAULT_INPUT)
    if key not in features or "label" not in features:
        raise ValueError(f"dataset {name!r} has features {list(features)}; deepzoo's classification "
                         f"input expects {key!r} and 'label'. Add it to deepzoo.data.sources._INPUTS.")
    num_classes = getattr(features["label"], "num_classes", None)
    if image_size:
        source = ImageSource(records, key, image_size, augment, num_classes)
        return ArraySource(source.read(np.arange(len(source))), num_classes) if cache else source

    def to_example(rows):
        return {"input": rows[key].astype(np.float32) * np.float32(scale),
                "label": rows["label"].astype(np.int32)}

    source = RecordSource(records, to_example, num_classes)
    if cache:
        source = ArraySource(source.read(np.arange(len(source))), num_classes)
    return source

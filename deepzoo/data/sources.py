"""Named datasets as random-access sources of examples: TFDS ArrayRecord data read without TensorFlow.

Offline datasets (see builders.py) are prepared into the TFDS data dir on first use; any other TFDS
name must already be prepared there in ArrayRecord format (as on pods).

A dataset's kind (KINDS, by name) says what its examples are:
    classification  {"input": float32, "label": int32}                  load("mnist1d", "train")
    translation     {"source": int32 (L,), "target": int32 (L,)}          load("numbers_en_de", "train",
                    SentencePiece ids + EOS, then PAD                          max_length=24, vocab_size=256)
    language_model  {"tokens": int32 (L + 1,)} UTF-8 bytes (ByteVocab)   load("python_docstrings", "train",
                    of the split's texts joined by blank lines                 max_length=256)
    captioning      {"image": uint8 (28, 112, 1), "target": int32 (L,)}   load("mnist_captions", "train",
                    caption word ids + EOS, then PAD                           max_length=8)
    generated       made in memory, deterministic: bit sequences          load("copy", "length_50"),
                    {"input", "target", "weights"} (algorithmic.py,       load("spike_bits", "train"),
                    spikes.py); digit pairs {"input", "labels", "first",  load("multi_mnist5k", "test")
                    "second"} (multidigits.py); groups of shapes  load("shapes", "train")
                    {"input", "factors", "factor"} (shapes.py);   load("photos_x4", "test")
                    photographs' crops {"input", "target"} (photos.py);  load("sort_preferences", "train")
                    sorting prompts, answers and preference pairs (sorting.py)
Text sources carry `vocab` (size/encode/decode, ids as in deepzoo.data.text) and `vocab_size`; their
reference strings (for BLEU) come from `texts(name, split, feature)`, in the sources' example order.
"""
import contextlib
import os

import jax
import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from jax.experimental import multihost_utils

from deepzoo.data import algorithmic, images, multidigits, photos, shapes, sorting, spikes, text
from deepzoo.data.augment import augmented
from deepzoo.data.label_noise import with_label_noise
from deepzoo.data.builders import OFFLINE_BUILDERS
from deepzoo.data.gettext_builder import GETTEXT_BUILDERS, PLACEHOLDER
from deepzoo.data.text_builders import TEXT_BUILDERS

_BUILDERS = {**OFFLINE_BUILDERS, **TEXT_BUILDERS}  # every dataset prepared here on first use

# How a record becomes the model input: (feature name, scale). Images are uint8 in [0, 255], except
# scikit-learn's digits, whose pixels count 0..16 ink dots.
_INPUTS = {"mnist1d": ("x", 1.0), "digits": ("image", 1 / 16)}
_DEFAULT_INPUT = ("image", 1 / 255)

# What a dataset's examples are, by name (before any "/config"); any other name is classification.
KINDS = {
    "numbers_en_de": "translation",
    **dict.fromkeys(GETTEXT_BUILDERS, "translation"),   # gettext_en_de, ...: the installed catalogs
    **{f"wmt{year}_translate": "translation" for year in range(13, 20)},
    "wmt_t2t_translate": "translation",
    "python_docstrings": "language_model",
    "mnist_captions": "captioning",
    **{name: "generated" for name in (*algorithmic.DATASETS, "spike_bits", "multi_mnist5k", "shapes", "photos_x4",
                                      *sorting.SPLITS)},
}
_GENERATED = {**{name: algorithmic.load for name in algorithmic.DATASETS}, "spike_bits": spikes.load,
              "multi_mnist5k": multidigits.load, "shapes": shapes.load, "photos_x4": photos.load,
              **{name: sorting.load for name in sorting.SPLITS}}   # made in memory, deterministic
_GENERATED_ATTRIBUTES = {name: {"vocab_size": sorting.VOCAB} for name in sorting.SPLITS}   # token sequences


def dataset_kind(name: str) -> str:
    """"classification", "translation", "language_model", "captioning" or "generated"."""
    return KINDS.get(name.split("/")[0], "classification")


def resolve_data_dir(path: str | None = None) -> str:
    """The TFDS data directory: `path`, else $TFDS_DATA_DIR, else ~/tensorflow_datasets; ~ expanded."""
    return os.path.expanduser(path or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets")


class ArraySource:
    """A split held in memory as arrays; `read(indices)` gathers a batch with one fancy index.
    Keyword `attributes` become attributes of the source (text datasets: vocab, vocab_size)."""

    def __init__(self, arrays: dict[str, np.ndarray], num_classes: int | None = None, **attributes):
        lengths = {len(v) for v in arrays.values()}
        if len(lengths) != 1:
            raise ValueError(f"arrays have different lengths: { {k: len(v) for k, v in arrays.items()} }")
        self.arrays = arrays
        self.num_classes = num_classes
        self.__dict__.update(attributes)

    def __len__(self):
        return len(next(iter(self.arrays.values())))

    def read(self, indices: np.ndarray, seeds=None) -> dict[str, np.ndarray]:
        """{feature: array[indices]}: the examples at `indices`; `seeds` is ignored (no augmentation)."""
        return {k: v[indices] for k, v in self.arrays.items()}


class RecordSource:
    """A split read record by record from ArrayRecord files (for datasets too big to hold in memory).
    Keyword `attributes` become attributes of the source (text datasets: vocab, vocab_size)."""

    def __init__(self, records, to_example, num_classes: int | None = None, **attributes):
        self.records, self.to_example, self.num_classes = records, to_example, num_classes
        self.__dict__.update(attributes)

    def __len__(self):
        return len(self.records)

    def read(self, indices: np.ndarray, seeds=None) -> dict[str, np.ndarray]:
        """The records at `indices`, stacked per feature and passed through `to_example`; `seeds`
        is ignored (no augmentation)."""
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
        """{"input": uint8 (n, size, size, C), "label": int32 (n,)} for the n records at `indices`.
        With augment, each random-resized crop and flip is drawn from seeds[i] (no seeds: from the record's index)."""
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
        builder = _BUILDERS[name](data_dir=directory, file_format="array_record")
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
    offline = ", ".join(sorted(_BUILDERS))
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


def _open(name: str, split: str, directory: str):
    """The split's records (a tfds data source), preparing an offline dataset on first use."""
    if name in _BUILDERS:
        _prepare_offline(name, directory)
    elif dataset_kind(name) == "translation":
        # Without TensorFlow, TFDS imports its legacy builders lazily and never registers WMT's.
        import tensorflow_datasets.translate  # noqa: F401
    try:
        return tfds.data_source(name, split=split, data_dir=directory, download=False)
    except Exception as e:  # noqa: BLE001  (re-raised, explained)
        raise _explain_failure(name, directory, e) from e


def select(source: ArraySource, classes=(), num_examples: int = 0, seed: int = 0) -> ArraySource:
    """The examples of `classes` only, relabelled 0..len(classes)-1 in that order (digits 5-9 as a
    5-class task), then `num_examples` of them drawn with `seed` (0: all), the same number per class
    where it divides evenly: a small training set whose smaller sizes are subsets of the larger ones."""
    arrays, num_classes = dict(source.arrays), source.num_classes
    if classes:
        unknown = sorted(set(classes) - set(np.unique(arrays["label"]).tolist()))
        if unknown:
            raise ValueError(f"classes {unknown} do not occur in this dataset (its labels: "
                             f"{sorted(np.unique(arrays['label']).tolist())}); fix config.dataset.classes.")
        keep = np.isin(arrays["label"], classes)
        arrays = {k: v[keep] for k, v in arrays.items()}
        relabel = np.zeros(max(classes) + 1, np.int32)
        relabel[list(classes)] = np.arange(len(classes))
        arrays["label"] = relabel[arrays["label"]]
        num_classes = len(classes)
    if num_examples:
        n = len(next(iter(arrays.values())))
        if num_examples > n:
            raise ValueError(f"num_examples={num_examples} is more than the {n} examples there are; lower "
                             f"config.dataset.train_examples.")
        order = np.random.default_rng(seed).permutation(n)
        if "label" not in arrays:  # e.g. sentence pairs: a random subset, nested across sizes too
            return ArraySource({k: v[np.sort(order[:num_examples])] for k, v in arrays.items()}, num_classes)
        labels = arrays["label"][order]
        # round-robin over classes, each in its own random order: balanced, and nested across sizes
        rank = np.empty(n, np.int64)
        for c in np.unique(labels):
            rank[labels == c] = np.arange(np.sum(labels == c))
        chosen = order[np.lexsort((labels, rank))[:num_examples]]
        arrays = {k: v[np.sort(chosen)] for k, v in arrays.items()}
    return ArraySource(arrays, num_classes)


_shared = None   # {(name, split, directory): the split in memory} inside shared_reads()


@contextlib.contextmanager
def shared_reads():
    """Inside, loads of the same in-memory split share one copy of its arrays (a sweep's trials differ in
    their subsets and labels, not in the images they read). Subsets, noisy labels and augmentation never
    write into the shared arrays."""
    global _shared
    _shared = {}
    try:
        yield
    finally:
        _shared = None


def load(name: str, split: str, *, data_dir: str | None = None, cache: bool = True,
         image_size: int = 0, augment: bool = False, max_length: int = 0, vocab_size: int = 0,
         languages: tuple = ("en", "de"), classes: tuple = (), num_examples: int = 0, seed: int = 0,
         label_noise: float = 0.0, augmentation: str = ""):
    """Returns the `split` of dataset `name` as a source of examples; their kind (see the module's
    docstring) follows from the name: {"input": float32, "label": int32} for classification.

    cache=True reads the split into memory once (small datasets: batches are then one numpy gather).
    image_size > 0 makes an ImageSource instead: uint8 size x size crops of images of any size, random
    (augment=True, for training) or central; the task normalises them on the device.
    Text datasets: max_length is the length of every token sequence (required); translation also
    takes vocab_size (SentencePiece pieces, required) and languages (source, target feature names).
    classes, num_examples, seed: a subset of a cached classification split (see `select`); label_noise:
    that fraction of its labels changed to another class, drawn with `seed` (label_noise.py);
    augmentation: e.g. "crop_flip" for training reads of an in-memory image split (augment.py).
    """
    kind = dataset_kind(name)
    if kind == "generated":
        return ArraySource(_GENERATED[name](name, split), **_GENERATED_ATTRIBUTES.get(name, {}))
    if kind != "classification":
        if image_size:
            raise ValueError(f"image_size={image_size} applies to image classification datasets, not to "
                             f"{name!r} ({kind}); leave --config.dataset.image_size unset.")
        return _text_source(kind, name, split, resolve_data_dir(data_dir), cache, max_length, vocab_size,
                            tuple(languages))
    if image_size and augment and cache:
        raise ValueError("random crops are drawn afresh every epoch and cannot be cached: set "
                         "--config.dataset.cache=False when --config.dataset.image_size is set.")
    directory = resolve_data_dir(data_dir)
    records = _open(name, split, directory)
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
        split_key = (name, split, directory)
        if _shared is not None and split_key in _shared:
            source = _shared[split_key]
        else:
            source = ArraySource(source.read(np.arange(len(source))), num_classes)
            if _shared is not None:
                _shared[split_key] = source
    if classes or num_examples:
        if not cache:
            raise ValueError("config.dataset.classes and train_examples select from a cached split: set "
                             "--config.dataset.cache=True.")
        source = select(source, classes, num_examples, seed)
    if label_noise:
        source = with_label_noise(source, label_noise, seed)
    return augmented(source, augmentation)


def _string(value) -> str:
    """A Text feature's value as str: data_source gives UTF-8 bytes (str under tfds mock_data)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _text_features(records) -> list[str]:
    features = records.dataset_info.features
    return [k for k in features.keys() if isinstance(features[k], tfds.features.Text)]


def texts(name: str, split: str, feature: str, *, data_dir: str | None = None) -> list[str]:
    """The strings of text feature `feature` of every example of the split, in the order of the
    examples of `load(name, split)`: the references for BLEU, e.g. texts("numbers_en_de", "test", "de"),
    texts("mnist_captions", "test", "caption")."""
    records = _open(name, split, resolve_data_dir(data_dir))
    if feature not in _text_features(records):
        raise ValueError(f"dataset {name!r} has no text feature {feature!r}; its text features are "
                         f"{_text_features(records)}.")
    return [_string(records[i][feature]) for i in range(len(records))]


def _targets(vocab, strings, max_length: int) -> np.ndarray:
    """Token ids + EOS, right-padded with PAD (cut to max_length, EOS kept last): int32 (n, max_length)."""
    return text.pad([ids + [text.EOS] for ids in vocab.encode_batch(strings)], max_length)


def _training_texts(name: str, directory: str, languages: tuple):
    """Every text of the train split, in record order, each language in turn: the vocabulary's
    training text (a generator: nothing is read unless the vocabulary has to be trained)."""
    records = _open(name, "train", directory)
    for i in range(len(records)):
        record = records[i]
        for language in sorted(languages):  # the same vocabulary for en->de and de->en
            yield _string(record[language])


def _text_source(kind: str, name: str, split: str, directory: str, cache: bool, max_length: int,
                 vocab_size: int, languages: tuple):
    if max_length <= 0:
        raise ValueError(f"dataset {name!r} is a {kind} dataset: set max_length > 0 (got {max_length}), the "
                         f"length of its token sequences (--config.dataset.max_length).")
    records = _open(name, split, directory)
    if kind == "language_model":
        return _language_model_source(name, split, records, max_length, vocab_size)

    if kind == "captioning":
        vocab = text.WordVocab(text.CAPTION_WORDS)
        _check_fixed_vocab(name, vocab, vocab_size)

        def to_example(rows):
            return {"image": rows["image"],
                    "target": _targets(vocab, map(_string, rows["caption"]), max_length)}
    else:  # translation
        known = _text_features(records)
        if len(languages) != 2 or not set(languages) <= set(known):
            raise ValueError(f"languages={languages} for dataset {name!r}: give (source, target), two of its "
                             f"text features {known}.")
        if vocab_size <= 0:
            raise ValueError(f"dataset {name!r} is tokenised with SentencePiece: set vocab_size > 0 (got "
                             f"{vocab_size}), e.g. 256 for numbers_en_de, 32000 for WMT.")
        # The version (and the fingerprint of a corpus made from the machine's files) in the name: a rebuilt
        # dataset never reuses the vocabulary of the previous one.
        info = records.dataset_info
        fingerprint = info.metadata.get("fingerprint") if info.metadata else None
        vocab = text.sentencepiece_vocab("_".join(filter(None, (name, str(info.version), fingerprint))),
                                         _training_texts(name, directory, languages), vocab_size, directory,
                                         keep_whole=PLACEHOLDER if name in GETTEXT_BUILDERS else None)
        source_language, target_language = languages

        def to_example(rows):
            return {"source": _targets(vocab, map(_string, rows[source_language]), max_length),
                    "target": _targets(vocab, map(_string, rows[target_language]), max_length)}

    source = RecordSource(records, to_example, vocab=vocab, vocab_size=vocab.size)
    if cache:
        source = ArraySource(source.read(np.arange(len(source))), vocab=vocab, vocab_size=vocab.size)
    return source


def _check_fixed_vocab(name: str, vocab, vocab_size: int):
    if vocab_size and vocab_size != vocab.size:
        raise ValueError(f"dataset {name!r} has a fixed vocabulary of {vocab.size} tokens "
                         f"({type(vocab).__name__}); leave vocab_size unset (got {vocab_size}).")


def _language_model_source(name: str, split: str, records, max_length: int, vocab_size: int):
    """The split's texts joined by blank lines into one byte stream, cut into non-overlapping windows
    of max_length + 1 tokens (the last, partial window is dropped). Always held in memory."""
    vocab = text.ByteVocab()
    _check_fixed_vocab(name, vocab, vocab_size)
    corpus = "\n\n".join(_string(records[i]["text"]) for i in range(len(records)))
    stream = vocab.encode_array(corpus)
    windows = len(stream) // (max_length + 1)
    if windows == 0:
        raise ValueError(f"split {split!r} of {name!r} has {len(stream)} tokens, fewer than one window of "
                         f"max_length + 1 = {max_length + 1}; lower max_length.")
    tokens = stream[:windows * (max_length + 1)].reshape(windows, max_length + 1)
    return ArraySource({"tokens": tokens}, vocab=vocab, vocab_size=vocab.size)

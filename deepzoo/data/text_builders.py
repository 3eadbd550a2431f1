"""TFDS builders for the text datasets made here with no network (see builders.py for how they are read):
numbers_en_de (translation), python_docstrings (language modelling), mnist_captions (captioning), and
gettext_en_de, gettext_en_fr (translation: the installed gettext catalogs, gettext_builder.py).

Text features are `tfds.features.Text`: it encodes to UTF-8 bytes without TensorFlow, and
`tfds.data_source` returns the bytes (str under tfds.testing.mock_data).
"""
import ast
import hashlib
import os
import sys
import sysconfig
import warnings

import numpy as np
import tensorflow_datasets as tfds

from deepzoo.data.builders import Mnist5k
from deepzoo.data.gettext_builder import GETTEXT_BUILDERS


def caption(number: int) -> str:
    """The number in English words, lower case, words separated by single spaces:
    4112 -> "four thousand one hundred and twelve" (num2words: "four thousand, one hundred and twelve")."""
    from num2words import num2words

    return " ".join(num2words(number, lang="en").lower().replace("-", " ").replace(",", " ").split())


class NumbersEnDe(tfds.core.GeneratorBasedBuilder):
    """Numbers 0..999,999,999 written out in English and in German by num2words (`english`, `german`):
    a translation task whose German puts units before tens (21: "twenty-one" -> "einundzwanzig") and
    glues everything below a million into one word, so attention must reorder and look far back.
    English inputs run from 1 to 20 words ("nine hundred and ninety-nine million, nine hundred and ...").

    Every number occurs at most once in the whole dataset. Numbers are drawn with a fixed seed by
    digit count: pick a digit count uniformly (1 digit: 0..9, d digits: 10**(d-1)..10**d - 1), then an
    unused number of that count uniformly; a count whose numbers are used up is no longer picked.
    There are only 1,000 numbers below 1,000 and they are the words every longer number is made of, so
    all of them go to train: validation and test (drawn first) take 4- to 9-digit numbers (digit count
    uniform over those six); train draws from all nine counts, so it holds every number below 1,000
    and the 4-digit numbers left, and 5- to 9-digit ones for the rest.
    SPLIT_SIZES can be made smaller in a subclass (the tests do).
    """

    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {"1.0.0": "num2words en/de of distinct numbers; numbers below 1,000 all in train.",
                     "2.0.0": "Numbers up to 999,999,999 (1.0.0 stopped below a million)."}
    SPLIT_SIZES = {"train": 50_000, "validation": 2_000, "test": 2_000}
    SEED = 5

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description="English -> German number words (num2words) for numbers 0..999,999,999.",
            features=tfds.features.FeaturesDict({
                "en": tfds.features.Text(),
                "de": tfds.features.Text(),
                "number": np.int64,
            }),
            supervised_keys=("en", "de"),
            homepage="https://github.com/savoirfairelinux/num2words",
        )

    def _split_generators(self, dl_manager):
        numbers = draw_numbers(self.SPLIT_SIZES, self.SEED)
        return {split: self._generate_examples(numbers[split]) for split in self.SPLIT_SIZES}

    def _generate_examples(self, numbers):
        for n in numbers:
            yield int(n), {"en": english(int(n)), "de": german(int(n)), "number": int(n)}


def english(number: int) -> str:
    """num2words's English: 4112 -> "four thousand, one hundred and twelve"."""
    from num2words import num2words

    return num2words(number, lang="en")


def german(number: int) -> str:
    """num2words's German, with its two errors fixed: it writes 101,000 "einhunderteinstausend" (and so
    every thousands part x01 > 1) and 101,000,000 "einhunderteins Millionen", where German says
    "einhunderteintausend" and "einhunderteine Millionen". "einstausend" and "eins Millionen" occur in
    no correct number word, so replacing them is safe."""
    from num2words import num2words

    return num2words(number, lang="de").replace("einstausend", "eintausend").replace(
        "eins Millionen", "eine Millionen")


MAX_DIGITS = 9
EVAL_DIGITS = range(4, MAX_DIGITS + 1)  # validation and test: every number below 1,000 is in train
MAX_NUMBERS = 1_000_000                 # far below the 10**9 numbers, so rejection draws stay fast


def draw_numbers(split_sizes: dict, seed: int) -> dict[str, list[int]]:
    """NumbersEnDe's numbers for each split (see its docstring): test, validation, then train."""
    if sum(split_sizes.values()) > MAX_NUMBERS:
        raise ValueError(f"split sizes {split_sizes} ask for more than {MAX_NUMBERS:,} numbers; drawing "
                         f"distinct numbers by rejection would crawl: ask for fewer.")
    rng = np.random.default_rng(seed)
    low = lambda d: 0 if d == 1 else 10 ** (d - 1)
    # Up to 4 digits, one random order per count (drawing an unused number is taking the next one);
    # above, too many numbers to list: uniform draws, redrawn on a repeat.
    pools = {d: list(rng.permutation(np.arange(low(d), 10 ** d))) for d in range(1, 5)}
    used = set()

    def take(d):
        if d in pools:
            return int(pools[d].pop())
        while True:
            n = int(rng.integers(low(d), 10 ** d))
            if n not in used:
                return n

    digit_counts = {"test": EVAL_DIGITS, "validation": EVAL_DIGITS, "train": range(1, MAX_DIGITS + 1)}
    numbers = {}
    for split in ("test", "validation", "train"):
        numbers[split] = []
        for _ in range(split_sizes[split]):
            counts = [d for d in digit_counts[split] if d not in pools or pools[d]]
            n = take(counts[rng.integers(len(counts))])
            used.add(n)
            numbers[split].append(n)
    return numbers


class PythonDocstrings(tfds.core.GeneratorBasedBuilder):
    """The docstrings of the Python standard library, a character-level language modelling corpus that
    needs no download. One record per module, class or function docstring (`ast.get_docstring(node,
    clean=True)`), in source order, files in sorted path order.

    The stdlib (`sysconfig.get_paths()["stdlib"]`) is parsed with `ast`, never imported (`antigravity`
    opens a browser, `this` prints). Skipped: site-packages, test packages (test, tests, idle_test:
    this covers lib2to3's deliberately broken test data) and files that fail to parse. A file goes
    wholly to one split, chosen by the SHA-256 of its relative path: about 90% train, 5% validation,
    5% test. The corpus depends on the Python version that prepares it (about 8,600 docstrings, 1.8M
    characters for 3.11); `info.metadata["python_version"]` records it. MAX_FILES (a subclass's, for
    tests) keeps only the first files in sorted order.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Docstrings of the stdlib of the preparing Python, split by file."}
    SKIP_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"})
    MAX_FILES: int | None = None

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=f"Docstrings of the Python {sys.version.split()[0]} standard library, one a record.",
            features=tfds.features.FeaturesDict({
                "text": tfds.features.Text(),
                "module": tfds.features.Text(),
            }),
            metadata=tfds.core.MetadataDict(python_version=sys.version),
            disable_shuffling=True,  # keep source order: a file's docstrings follow one another
            homepage="https://docs.python.org/3/library/",
        )

    def _split_generators(self, dl_manager):
        root = sysconfig.get_paths()["stdlib"]
        files = {"train": [], "validation": [], "test": []}
        for path in self.stdlib_files(root):
            bucket = int(hashlib.sha256(path.encode()).hexdigest(), 16) % 100
            files["train" if bucket < 90 else "validation" if bucket < 95 else "test"].append(path)
        return {split: self._generate_examples(root, paths) for split, paths in files.items()}

    def stdlib_files(self, root: str) -> list[str]:
        """Paths of the .py files under `root`, relative, sorted, skipping SKIP_DIRS."""
        paths = []
        for directory, subdirs, names in os.walk(root):
            subdirs[:] = [d for d in subdirs if d not in self.SKIP_DIRS]
            paths += [os.path.relpath(os.path.join(directory, n), root) for n in names if n.endswith(".py")]
        return sorted(paths)[:self.MAX_FILES]

    def _generate_examples(self, root, paths):
        for path in paths:
            module = path[:-len(".py")].replace(os.sep, ".").removesuffix(".__init__")
            for i, text in enumerate(docstrings(os.path.join(root, path))):
                yield f"{path}:{i}", {"text": text, "module": module}


def docstrings(filename: str) -> list[str]:
    """The non-empty module, class and function docstrings of a Python file, in source order, or []
    if it does not parse. The file is read and parsed, never imported."""
    with open(filename, "rb") as f:
        source = f.read()  # bytes: ast honours the file's coding declaration
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # old invalid escape sequences warn
            tree = ast.parse(source, filename=filename)
    except (SyntaxError, ValueError, RecursionError):  # ValueError: null bytes
        return []
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    nodes = sorted((n for n in ast.walk(tree) if isinstance(n, kinds)),
                   key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
    return [d for d in (ast.get_docstring(n, clean=True) for n in nodes) if d]


class MnistCaptions(tfds.core.GeneratorBasedBuilder):
    """Images of 2-4 real MNIST-5k digits side by side, captioned with the number in English words.

    Each example draws (with a fixed seed) a digit count uniformly in 2..4, a number with that many
    digits (first digit non-zero), and for each digit an image of that class uniformly from the
    mnist5k split; the digits (28 px wide each) are pasted side by side at a uniform horizontal offset
    on a black 28 x 112 canvas, so that the model must find them. Caption: `caption(number)`, e.g.
    "four thousand one hundred and twelve".

    Digits come from the mnist5k builder (prepared in the same data dir if it is not there yet): train
    and validation composites from its 4,000 train digits, test composites from its 1,000 test
    digits (handwriting no training image contains). Validation differs from train only in the
    compositions (numbers, offsets, choice of images): it measures the fit, test the generalisation.
    Numbers repeat (there are 9,990 of 2-4 digits), images rarely. "digits" holds the number's digits
    and "digit_indices" the mnist5k record indices (in the mnist5k split) of their images, padded
    with -1; "offset" is the column of the first digit's left edge.
    SPLIT_SIZES can be made smaller in a subclass (the tests do).
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "2-4 mnist5k digits on a 28x112 canvas at a random offset, English captions."}
    SPLIT_SIZES = {"train": 20_000, "validation": 2_000, "test": 2_000}
    DIGITS_SPLIT = {"train": "train", "validation": "train", "test": "test"}  # mnist5k split used
    SEED = 5
    HEIGHT, WIDTH, MAX_DIGITS = 28, 112, 4

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description="2-4 MNIST-5k digits at a random offset on a 28x112 canvas, captioned in English.",
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Tensor(shape=(self.HEIGHT, self.WIDTH, 1), dtype=np.uint8),
                "caption": tfds.features.Text(),
                "number": np.int64,
                "digits": tfds.features.Tensor(shape=(self.MAX_DIGITS,), dtype=np.int64),
                "digit_indices": tfds.features.Tensor(shape=(self.MAX_DIGITS,), dtype=np.int64),
                "offset": np.int64,
            }),
            supervised_keys=("image", "caption"),
        )

    def _split_generators(self, dl_manager):
        mnist = Mnist5k(data_dir=str(self.data_dir_root), file_format="array_record")
        if not mnist.is_prepared():
            mnist.download_and_prepare()
        sources = mnist.as_data_source()
        digits = {}
        for split in set(self.DIGITS_SPLIT.values()):
            records = [sources[split][i] for i in range(len(sources[split]))]
            digits[split] = (np.stack([r["image"] for r in records]), np.array([r["label"] for r in records]))
        return {split: self._generate_examples(*digits[self.DIGITS_SPLIT[split]], size, seed=(self.SEED, i))
                for i, (split, size) in enumerate(self.SPLIT_SIZES.items())}

    def _generate_examples(self, images, labels, size, seed):
        rng = np.random.default_rng(seed)
        by_class = [np.flatnonzero(labels == c) for c in range(10)]
        for key in range(size):
            count = int(rng.integers(2, self.MAX_DIGITS + 1))
            digits = [int(rng.integers(1, 10))] + [int(d) for d in rng.integers(0, 10, count - 1)]
            indices = [int(rng.choice(by_class[d])) for d in digits]
            offset = int(rng.integers(0, self.WIDTH - 28 * count + 1))
            canvas = np.zeros((self.HEIGHT, self.WIDTH, 1), np.uint8)
            for k, i in enumerate(indices):
                canvas[:, offset + 28 * k:offset + 28 * (k + 1)] = images[i]
            number = int("".join(map(str, digits)))
            fill = [-1] * (self.MAX_DIGITS - count)
            yield key, {"image": canvas, "caption": caption(number), "number": number,
                        "digits": np.array(digits + fill, np.int64),
                        "digit_indices": np.array(indices + fill, np.int64), "offset": offset}


# Kept apart from OFFLINE_BUILDERS, every entry of which tests/test_builders.py checks as a labelled
# classification dataset; sources.py prepares the datasets of both tables.
TEXT_BUILDERS = {"numbers_en_de": NumbersEnDe, "python_docstrings": PythonDocstrings,
                 "mnist_captions": MnistCaptions, **GETTEXT_BUILDERS}

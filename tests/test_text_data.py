"""The text datasets (numbers_en_de, python_docstrings, mnist_captions), their tokenisers and their
sources: documented splits and contents, checked against number words spelled independently here,
pixel-exact digit placement, round-tripping tokenisers, and the PAD/EOS layout of every kind.

The builders are prepared at test-only sizes (subclasses with smaller SPLIT_SIZES / MAX_FILES, under
the real names, in one temporary data dir); the full-size builds are @pytest.mark.slow.
"""
import collections
import hashlib
import inspect
import os
import re
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

from deepzoo.data import builders, sources, text, text_builders

# ---- number words spelled independently of num2words --------------------------------------------

UNITS_EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
            "nineteen"]
TENS_EN = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
UNITS_DE = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn",
            "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn", "achtzehn",
            "neunzehn"]
TENS_DE = ["", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig", "neunzig"]


def english_below_100(n):
    tens, units = divmod(n, 10)
    return UNITS_EN[n] if n < 20 else TENS_EN[tens] + (f"-{UNITS_EN[units]}" if units else "")


def english_below_1000(n):
    hundreds, rest = divmod(n, 100)
    if not hundreds:
        return english_below_100(rest)
    return f"{UNITS_EN[hundreds]} hundred" + (f" and {english_below_100(rest)}" if rest else "")


def english_below_million(n):
    thousands, rest = divmod(n, 1000)
    if not thousands:
        return english_below_1000(rest)
    if not rest:
        return f"{english_below_1000(thousands)} thousand"
    joint = f", {english_below_1000(rest)}" if rest >= 100 else f" and {english_below_100(rest)}"
    return f"{english_below_1000(thousands)} thousand{joint}"


def english(n):
    """British style, as num2words: 'four thousand, one hundred and twelve', 'one thousand and one',
    'two million and one', 'one million, one thousand'."""
    millions, rest = divmod(n, 10 ** 6)
    if not millions:
        return english_below_million(rest)
    if not rest:
        return f"{english_below_1000(millions)} million"
    joint = f", {english_below_million(rest)}" if rest >= 100 else f" and {english_below_100(rest)}"
    return f"{english_below_1000(millions)} million{joint}"


def german_below_1000(n, one="eins"):
    """`one`: how a final 1 is said: "eins" alone, "ein" before "tausend", "eine" before "Millionen"."""
    hundreds, rest = divmod(n, 100)
    out = ("ein" if hundreds == 1 else UNITS_DE[hundreds]) + "hundert" if hundreds else ""
    if rest == 1:
        return out + one
    if rest < 20:
        return out + (UNITS_DE[rest] if rest else "")
    tens, units = divmod(rest, 10)  # units before tens: 21 = ein-und-zwanzig
    return out + (("ein" if units == 1 else UNITS_DE[units]) + "und" if units else "") + TENS_DE[tens]


def german_below_million(n):
    thousands, rest = divmod(n, 1000)
    return ((german_below_1000(thousands, one="ein") + "tausend" if thousands else "")
            + (german_below_1000(rest) if rest else ""))


def german(n):
    """One word below a million; millions are a separate word: "zwei Millionen einundzwanzigtausend"."""
    if n == 0:
        return "null"
    millions, rest = divmod(n, 10 ** 6)
    head = "" if not millions else "eine Million" if millions == 1 else \
        german_below_1000(millions, one="eine") + " Millionen"
    return " ".join(part for part in (head, german_below_million(rest) if rest else "") if part)


def spoken_caption(n):
    return " ".join(english(n).replace("-", " ").replace(",", " ").split())


# ---- small builds of the three datasets -----------------------------------------------------------

class SmallNumbers(text_builders.NumbersEnDe, skip_registration=True):
    name = "numbers_en_de"
    SPLIT_SIZES = {"train": 1200, "validation": 100, "test": 100}


class SmallDocstrings(text_builders.PythonDocstrings, skip_registration=True):
    name = "python_docstrings"
    MAX_FILES = 60  # __future__.py ... asyncio/...: includes antigravity.py, which must not be imported


class SmallCaptions(text_builders.MnistCaptions, skip_registration=True):
    name = "mnist_captions"
    SPLIT_SIZES = {"train": 300, "validation": 60, "test": 60}


def read_all(builder):
    source = builder.as_data_source()
    return {split: [source[split][i] for i in range(len(source[split]))] for split in source}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One data dir holding the small builds, under the real names: `sources.load` reads them."""
    directory = str(tmp_path_factory.mktemp("text_data"))
    for cls in (SmallNumbers, SmallDocstrings, SmallCaptions):
        cls(data_dir=directory, file_format="array_record").download_and_prepare()
    return directory


@pytest.fixture(scope="module")
def numbers(data_dir):
    return read_all(SmallNumbers(data_dir=data_dir, file_format="array_record"))


@pytest.fixture(scope="module")
def docstrings(data_dir):
    return read_all(SmallDocstrings(data_dir=data_dir, file_format="array_record"))


@pytest.fixture(scope="module")
def captions(data_dir):
    return read_all(SmallCaptions(data_dir=data_dir, file_format="array_record"))


# ---- numbers_en_de --------------------------------------------------------------------------------

def test_independent_spelling_matches_num2words_with_german_fixes():
    """The reference spellers above agree with the builder's words on a spread of numbers, including
    the two num2words errors the builder fixes (101,000: 'einhunderteinstausend'; 101,000,000:
    'einhunderteins Millionen')."""
    from num2words import num2words
    rng = np.random.default_rng(0)
    spread = [int(x) for x in rng.integers(0, 10 ** 6, 300)] + [int(x) for x in rng.integers(0, 10 ** 9, 500)]
    edges = [101_000, 201_001, 10 ** 6, 1_001_000, 2_000_001, 21_021_021, 101_101_101, 999_999_999]
    for n in list(range(0, 1200)) + spread + edges:
        assert text_builders.english(n) == english(n), n
        assert text_builders.german(n) == german(n), n
    assert num2words(101_000, lang="de") == "einhunderteinstausend"  # still wrong upstream: fix needed
    assert num2words(101_000_000, lang="de") == "einhunderteins Millionen"
    assert text_builders.german(101_000) == "einhunderteintausend"
    assert text_builders.german(101_000_000) == "einhunderteine Millionen"


def test_drawn_numbers_are_distinct_small_ones_in_train_and_digit_counts_uniform():
    sizes = text_builders.NumbersEnDe.SPLIT_SIZES
    drawn = text_builders.draw_numbers(sizes, text_builders.NumbersEnDe.SEED)
    assert {s: len(v) for s, v in drawn.items()} == {"train": 50_000, "validation": 2_000, "test": 2_000}
    everything = drawn["train"] + drawn["validation"] + drawn["test"]
    assert len(set(everything)) == len(everything) == 54_000  # distinct within and across splits
    assert set(range(1000)) <= set(drawn["train"])             # every number below 1,000 in train
    assert max(everything) < 10 ** 9
    for split in ("validation", "test"):
        counts = collections.Counter(len(str(n)) for n in drawn[split])
        assert set(counts) == set(range(4, 10))
        for d in range(4, 10):  # binomial(2000, 1/6): mean 333, sd 17; 4.5 sd either side
            assert 257 < counts[d] < 410, (split, counts)
    train = collections.Counter(len(str(n)) for n in drawn["train"])
    assert [train[d] for d in (1, 2, 3)] == [10, 90, 900]
    # 50,000 over 9 counts: 1,000 below 1,000, the rest evenly over 4..9 digits (~8,170 each)
    for d in range(4, 10):
        assert 7_600 < train[d] < 8_800, train
    assert text_builders.draw_numbers(sizes, text_builders.NumbersEnDe.SEED) == drawn
    assert text_builders.draw_numbers(sizes, 6)["test"] != drawn["test"]


def test_too_many_numbers_is_refused():
    with pytest.raises(ValueError, match="more than 1,000,000 numbers"):
        text_builders.draw_numbers({"test": 999_001, "validation": 2_000, "train": 0}, 0)


def test_numbers_builder_splits_and_words(numbers):
    assert {s: len(r) for s, r in numbers.items()} == SmallNumbers.SPLIT_SIZES
    by_split = {s: [int(r["number"]) for r in records] for s, records in numbers.items()}
    assert sum(map(len, by_split.values())) == len(set().union(*map(set, by_split.values())))
    for records in numbers.values():
        for r in records:
            assert r["en"].decode() == english(int(r["number"]))
            assert r["de"].decode() == german(int(r["number"]))
    train = {int(r["number"]): r for r in numbers["train"]}
    assert train[21]["en"] == b"twenty-one" and train[21]["de"] == b"einundzwanzig"
    assert train[0]["de"] == b"null" and train[17]["de"] == b"siebzehn"
    assert all(n >= 1000 for n in by_split["test"] + by_split["validation"])


# ---- python_docstrings ---------------------------------------------------------------------------

def test_docstrings_are_the_stdlib_docstrings_split_by_file(docstrings):
    import sysconfig
    root = sysconfig.get_paths()["stdlib"]
    files = SmallDocstrings().stdlib_files(root)
    assert len(files) == 60 and files == sorted(files) and files[0] == "__future__.py"
    assert all(s > 0 for s in map(len, docstrings.values())), {s: len(r) for s, r in docstrings.items()}
    modules = {s: {r["module"].decode() for r in records} for s, records in docstrings.items()}
    assert not (modules["train"] & modules["validation"] or modules["train"] & modules["test"]
                or modules["validation"] & modules["test"])  # a file goes wholly to one split
    for path in files:  # the documented rule: SHA-256 of the relative path, 90/5/5
        module = path[:-3].replace("/", ".").removesuffix(".__init__")
        bucket = int(hashlib.sha256(path.encode()).hexdigest(), 16) % 100
        split = "train" if bucket < 90 else "validation" if bucket < 95 else "test"
        assert not any(module in modules[s] for s in modules if s != split), module
    # The records hold what Python itself reports as the docstrings (inspect.getdoc cleans them as
    # ast.get_docstring(clean=True) does), in source order: module first, then its classes/functions.
    texts = collections.defaultdict(list)
    for records in docstrings.values():
        for r in records:
            texts[r["module"].decode()].append(r["text"].decode())
    import abc
    import argparse
    assert texts["abc"][0] == inspect.getdoc(abc)
    assert texts["argparse"][0] == inspect.getdoc(argparse)
    assert inspect.getdoc(argparse.ArgumentParser) in texts["argparse"]
    assert inspect.getdoc(argparse.Namespace) in texts["argparse"]
    assert inspect.getdoc(abc.ABCMeta.register) in texts["abc"]
    assert texts["argparse"].index(inspect.getdoc(argparse.Action)) < texts["argparse"].index(
        inspect.getdoc(argparse.ArgumentParser))  # Action is defined first
    assert all(t.strip() for ts in texts.values() for t in ts)  # no empty docstrings


def test_docstrings_never_import_the_stdlib(docstrings):
    assert "antigravity.py" in SmallDocstrings().stdlib_files(__import__("sysconfig").get_paths()["stdlib"])
    assert "antigravity" not in sys.modules  # parsed, never imported (it opens a browser)


def test_docstrings_record_the_python_version(data_dir):
    info = SmallDocstrings(data_dir=data_dir).info
    assert info.metadata["python_version"] == sys.version
    assert sys.version.split()[0] in info.description


def test_unparseable_file_gives_no_docstrings(tmp_path):
    bad, good = tmp_path / "bad.py", tmp_path / "good.py"
    bad.write_text('"""never seen"""\ndef f(:\n')
    good.write_text('"""Module."""\nclass A:\n    """  Class A.\n\n    Details:\n      indented\n    """\n'
                    '    def f(self):\n        """Method."""\n\nasync def g():\n    pass\n')
    assert text_builders.docstrings(str(bad)) == []
    assert text_builders.docstrings(str(good)) == ["Module.", "Class A.\n\nDetails:\n  indented", "Method."]


# ---- mnist_captions ------------------------------------------------------------------------------

def test_caption_words():
    assert text_builders.caption(4112) == "four thousand one hundred and twelve"
    assert text_builders.caption(21) == "twenty one"
    vocab = text.WordVocab(text.CAPTION_WORDS)
    for n in range(10, 10_000):  # every number of 2-4 digits is spelled in the fixed vocabulary
        words = text_builders.caption(n)
        assert words == spoken_caption(n)
        ids = vocab.encode(words)
        assert text.UNK not in ids and vocab.decode(ids) == words


def test_captions_place_the_mnist5k_digits_pixel_exactly(data_dir, captions):
    assert {s: len(r) for s, r in captions.items()} == SmallCaptions.SPLIT_SIZES
    mnist = builders.Mnist5k(data_dir=data_dir, file_format="array_record").as_data_source()
    counts = collections.Counter()
    for split, records in captions.items():
        digit_source = mnist[SmallCaptions.DIGITS_SPLIT[split]]
        for r in records:
            digits = [int(d) for d in r["digits"] if d >= 0]
            k, offset = len(digits), int(r["offset"])
            counts[k] += 1
            assert 2 <= k <= 4 and digits[0] != 0 and list(r["digits"][k:]) == [-1] * (4 - k)
            assert int(r["number"]) == int("".join(map(str, digits)))
            assert r["caption"].decode() == spoken_caption(int(r["number"]))
            assert r["image"].shape == (28, 112, 1) and r["image"].dtype == np.uint8
            assert 0 <= offset <= 112 - 28 * k
            expected = np.zeros((28, 112, 1), np.uint8)
            for j, index in enumerate(r["digit_indices"][:k]):
                digit = digit_source[int(index)]
                assert int(digit["label"]) == digits[j]  # an image of the right class
                expected[:, offset + 28 * j:offset + 28 * (j + 1)] = digit["image"]
            np.testing.assert_array_equal(r["image"], expected)  # and nothing else on the canvas
    assert set(counts) == {2, 3, 4}
    offsets = {int(r["offset"]) for r in captions["train"]}
    assert len(offsets) > 20  # the digits do move around


# ---- tokenisers ----------------------------------------------------------------------------------

def test_byte_vocab_round_trips_any_text():
    vocab = text.ByteVocab()
    assert vocab.size == 260
    assert vocab.encode("A\n") == [65 + 4, 10 + 4]
    for s in ["", "hello world", "Grüße aus Köln — 日本語 🎉\n\n\tx", "\x00\x7f"]:
        ids = vocab.encode(s)
        assert min(ids, default=4) >= 4 and max(ids, default=4) <= 259
        assert vocab.decode(ids) == s
        assert vocab.encode_array(s).dtype == np.int32 and vocab.encode_array(s).tolist() == ids
    ids = [text.BOS] + vocab.encode("ab") + [text.PAD, text.EOS] + vocab.encode("cd")
    assert vocab.decode(ids) == "ab"  # BOS/PAD skipped, stops at EOS
    assert vocab.decode(np.array(vocab.encode("é"))[:1]) == "\ufffd"  # half a character: replaced
    assert vocab.decode([text.UNK]) == "\ufffd"  # never made by encode; shown as the replacement char
    with pytest.raises(ValueError, match="id 260 is outside"):
        vocab.decode([260])


def test_word_vocab():
    vocab = text.WordVocab(["the", "cat"])
    assert vocab.size == 6 and vocab.encode("the cat  the") == [4, 5, 4]
    assert vocab.encode("the dog") == [4, text.UNK]
    assert vocab.decode([text.BOS, 5, 4, text.EOS, 5, text.PAD]) == "cat the"
    assert vocab.decode([4, text.UNK]) == "the <unk>"
    with pytest.raises(ValueError, match="distinct words"):
        text.WordVocab(["a", "a"])
    with pytest.raises(ValueError, match="bad ones: \\['<pad>', 'a b'\\]"):
        text.WordVocab(["<pad>", "a b"])
    captions = text.WordVocab(text.CAPTION_WORDS)
    assert captions.size == 4 + 20 + 8 + 3 == 35
    assert captions.words[:5] == ("<pad>", "</s>", "<s>", "<unk>", "zero")
    assert captions.words[-3:] == ("hundred", "thousand", "and")


def test_pad_layout_and_truncation():
    out = text.pad([[5, 6, text.EOS], [7], []], 4)
    np.testing.assert_array_equal(out, [[5, 6, 1, 0], [7, 0, 0, 0], [0, 0, 0, 0]])
    assert out.dtype == np.int32
    cut = text.pad([[5, 6, 7, 8, 9, text.EOS], [5, 6, 7, 8, 9]], 3)
    np.testing.assert_array_equal(cut, [[5, 6, text.EOS], [5, 6, 7]])  # a cut target still ends
    with pytest.raises(ValueError, match="pad length must be positive, got 0"):
        text.pad([[5]], 0)


def number_texts(numbers, split="train"):
    return [r[lang].decode() for r in numbers[split] for lang in ("de", "en")]


def test_sentencepiece_is_deterministic_and_round_trips(numbers, tmp_path):
    first = text.train_sentencepiece(number_texts(numbers), 64)
    assert text.train_sentencepiece(iter(number_texts(numbers)), 64) == first  # byte-identical model
    vocab = text.sentencepiece_vocab("numbers_en_de", number_texts(numbers), 64, str(tmp_path))
    path = tmp_path / "deepzoo_spm" / "numbers_en_de_64.model"
    assert vocab.path == str(path) and path.read_bytes() == first
    assert vocab.size == 64
    assert [vocab.processor.id_to_piece(i) for i in range(4)] == ["<pad>", "</s>", "<s>", "<unk>"]
    held_out = number_texts(numbers, "test") + number_texts(numbers, "validation")
    for s, ids in zip(held_out, vocab.encode_batch(held_out)):
        assert ids == vocab.encode(s) and min(ids) >= 4
        assert vocab.decode(ids + [text.EOS, 9, text.PAD]) == s  # decode stops at EOS

    def untouched():
        raise AssertionError("the cached model must be reused, not retrained")
        yield  # a generator

    again = text.sentencepiece_vocab("numbers_en_de", untouched(), 64, str(tmp_path))
    assert again.encode("einundzwanzig") == vocab.encode("einundzwanzig")


def test_frequent_symbols_become_pieces(numbers):
    assert text.frequent_symbols(["%s and %d", "%s", "%d %s %x", "%%"], re.compile(r"%."), min_count=2) == ["%s", "%d"]
    texts = number_texts(numbers) + ["%d Zeichen", "%d characters"]
    plain, kept = (text.train_sentencepiece(texts, 64, symbols=s) for s in ((), ("%d",)))
    assert plain != kept
    import sentencepiece as spm
    pieces = spm.SentencePieceProcessor(model_proto=kept).encode("%d Zeichen und%d", out_type=str)
    assert pieces[0] == "\u2581%d" and pieces[-1] == "%d"


def test_sentencepiece_bad_vocab_sizes(numbers):
    with pytest.raises(ValueError, match="vocab_size=4 leaves no room"):
        text.train_sentencepiece(number_texts(numbers), 4)
    with pytest.raises(ValueError, match="cannot make a vocabulary of 10 pieces.*required_chars"):
        text.train_sentencepiece(number_texts(numbers), 10)
    with pytest.raises(ValueError, match="cannot make a vocabulary of 100000 pieces.*value <="):
        text.train_sentencepiece(number_texts(numbers), 100_000)


def test_sentencepiece_caps_its_training_text():
    capped = list(text._capped(["abc", "", "defg", "hi", "jk"], 7))
    assert capped == ["abc", "defg"]


# ---- sources.load --------------------------------------------------------------------------------

def assert_eos_pad_layout(rows, lengths):
    """Each row: `length` content ids (>= 4), EOS, then PAD only."""
    for row, n in zip(rows, lengths):
        assert np.all(row[:n] >= 4), row
        assert row[n] == text.EOS and np.all(row[n + 1:] == text.PAD), row


def test_dataset_kinds():
    assert sources.dataset_kind("mnist1d") == "classification"
    assert sources.dataset_kind("numbers_en_de") == "translation"
    assert sources.dataset_kind("wmt14_translate/de-en") == "translation"
    assert sources.dataset_kind("wmt14_translate/fr-en") == "translation"
    assert sources.dataset_kind("python_docstrings") == "language_model"
    assert sources.dataset_kind("mnist_captions") == "captioning"


def test_load_translation(data_dir, numbers):
    kwargs = dict(data_dir=data_dir, max_length=64, vocab_size=64)
    source = sources.load("numbers_en_de", "validation", **kwargs)
    assert len(source) == 100 and source.num_classes is None
    assert source.vocab_size == source.vocab.size == 64
    assert os.path.exists(os.path.join(data_dir, "deepzoo_spm", "numbers_en_de_2.0.0_64.model"))
    batch = source.read(np.arange(len(source)))
    assert set(batch) == {"source", "target"}
    for key in batch:
        assert batch[key].shape == (100, 64) and batch[key].dtype == np.int32
    en = sources.texts("numbers_en_de", "validation", "en", data_dir=data_dir)
    de = sources.texts("numbers_en_de", "validation", "de", data_dir=data_dir)
    assert sorted(en) == sorted(r["en"].decode() for r in numbers["validation"])
    lengths = {"source": [len(source.vocab.encode(s)) for s in en],
               "target": [len(source.vocab.encode(s)) for s in de]}
    assert max(lengths["source"] + lengths["target"]) < 64  # nothing cut: the layout below is exact
    assert_eos_pad_layout(batch["source"], lengths["source"])
    assert_eos_pad_layout(batch["target"], lengths["target"])
    assert [source.vocab.decode(row) for row in batch["source"]] == en  # texts() is in example order
    assert [source.vocab.decode(row) for row in batch["target"]] == de
    # The same examples read record by record, and the other direction with the same vocabulary.
    records = sources.load("numbers_en_de", "validation", cache=False, **kwargs)
    assert records.vocab_size == 64
    idx = np.array([3, 0, 99])
    for key in ("source", "target"):
        np.testing.assert_array_equal(records.read(idx)[key], batch[key][idx])
    reverse = sources.load("numbers_en_de", "validation", languages=("de", "en"), **kwargs)
    np.testing.assert_array_equal(reverse.read(idx)["source"], batch["target"][idx])


def test_load_translation_truncates_keeping_eos(data_dir):
    source = sources.load("numbers_en_de", "test", data_dir=data_dir, max_length=3, vocab_size=64)
    batch = source.read(np.arange(100))
    assert np.all(batch["target"][:, -1] == text.EOS)  # every test number is longer than 2 pieces
    assert np.all(batch["target"][:, :2] >= 4)


def test_load_translation_errors(data_dir):
    with pytest.raises(ValueError, match=r"languages=\('en', 'fr'\).*text features \['en', 'de'\]"):
        sources.load("numbers_en_de", "test", data_dir=data_dir, max_length=8, vocab_size=64,
                     languages=("en", "fr"))
    with pytest.raises(ValueError, match="set vocab_size > 0 \\(got 0\\)"):
        sources.load("numbers_en_de", "test", data_dir=data_dir, max_length=8)
    with pytest.raises(ValueError, match="set max_length > 0 \\(got 0\\)"):
        sources.load("numbers_en_de", "test", data_dir=data_dir, vocab_size=64)
    with pytest.raises(ValueError, match="cannot make a vocabulary of 7 pieces"):
        sources.load("numbers_en_de", "test", data_dir=data_dir, max_length=8, vocab_size=7)
    with pytest.raises(ValueError, match="no text feature 'number'"):
        sources.texts("numbers_en_de", "test", "number", data_dir=data_dir)
    with pytest.raises(ValueError, match="image_size=32 applies to image classification"):
        sources.load("numbers_en_de", "test", data_dir=data_dir, max_length=8, vocab_size=64, image_size=32)


def test_load_language_model(data_dir):
    source = sources.load("python_docstrings", "train", data_dir=data_dir, max_length=63)
    corpus = "\n\n".join(sources.texts("python_docstrings", "train", "text", data_dir=data_dir))
    stream = np.frombuffer(corpus.encode("utf-8"), np.uint8).astype(np.int32) + 4
    assert len(source) == len(stream) // 64 and source.vocab_size == 260 and source.num_classes is None
    tokens = source.read(np.arange(len(source)))["tokens"]
    assert tokens.shape == (len(stream) // 64, 64) and tokens.dtype == np.int32
    np.testing.assert_array_equal(tokens.reshape(-1), stream[:tokens.size])  # non-overlapping windows
    assert source.vocab.decode(tokens[0]) == bytes((tokens[0] - 4).tolist()).decode("utf-8", "replace")
    assert isinstance(sources.load("python_docstrings", "train", data_dir=data_dir, max_length=63,
                                   cache=False), sources.ArraySource)


def test_load_language_model_errors(data_dir):
    with pytest.raises(ValueError, match="fewer than one window of max_length \\+ 1 = 100000001"):
        sources.load("python_docstrings", "test", data_dir=data_dir, max_length=100_000_000)
    with pytest.raises(ValueError, match="fixed vocabulary of 260 tokens \\(ByteVocab\\)"):
        sources.load("python_docstrings", "test", data_dir=data_dir, max_length=8, vocab_size=1000)


def test_load_captioning(data_dir, captions):
    source = sources.load("mnist_captions", "test", data_dir=data_dir, max_length=8)
    assert len(source) == 60 and source.vocab_size == 35 and source.num_classes is None
    batch = source.read(np.arange(60))
    assert set(batch) == {"image", "target"}
    assert batch["image"].shape == (60, 28, 112, 1) and batch["image"].dtype == np.uint8
    assert batch["target"].shape == (60, 8) and batch["target"].dtype == np.int32
    refs = sources.texts("mnist_captions", "test", "caption", data_dir=data_dir)
    assert sorted(refs) == sorted(r["caption"].decode() for r in captions["test"])
    assert_eos_pad_layout(batch["target"], [len(r.split()) for r in refs])  # <= 7 words: no cut
    assert [source.vocab.decode(row) for row in batch["target"]] == refs
    records = sources.load("mnist_captions", "test", data_dir=data_dir, max_length=8, cache=False)
    for key in batch:
        np.testing.assert_array_equal(records.read(np.array([5, 1]))[key], batch[key][[5, 1]])


def test_wmt_through_mock_data(tmp_path):
    """wmt14_translate/de-en (TFDS's own builder, mocked: random strings) loads like numbers_en_de."""
    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        source = sources.load("wmt14_translate/de-en", "train", data_dir=str(tmp_path), max_length=24,
                              vocab_size=30, languages=("en", "de"), cache=False)
        assert len(source) == 12 and source.vocab_size == 30 and isinstance(source, sources.RecordSource)
        batch = source.read(np.arange(12))
        en = sources.texts("wmt14_translate/de-en", "train", "en", data_dir=str(tmp_path))
        with pytest.raises(ValueError, match=r"text features \['de', 'en'\]"):
            sources.load("wmt14_translate/de-en", "train", data_dir=str(tmp_path), max_length=24,
                         vocab_size=30, languages=("en", "fr"))
    assert os.path.exists(tmp_path / "deepzoo_spm" / "wmt14_translate-de-en_1.0.0_30.model")
    assert batch["source"].shape == batch["target"].shape == (12, 24)
    assert batch["source"].dtype == np.int32
    for key in ("source", "target"):
        assert np.all(np.sum(batch[key] == text.EOS, axis=1) == 1)  # one EOS per row, then PAD
        for row in batch[key]:
            end = list(row).index(text.EOS)
            assert np.all(row[:end] >= 4) and np.all(row[end + 1:] == text.PAD)
    # SentencePiece's normaliser collapses runs of spaces; otherwise the text comes back.
    assert [source.vocab.decode(row) for row in batch["source"]] == [" ".join(s.split()) for s in en]


def test_unprepared_wmt_fails_at_once_saying_how_to_prepare(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"not prepared.*tfds build wmt14_translate/de-en"):
        sources.load("wmt14_translate/de-en", "train", data_dir=str(tmp_path), max_length=8, vocab_size=100)


def test_sources_carry_keyword_attributes():
    vocab = text.ByteVocab()
    array = sources.ArraySource({"tokens": np.zeros((3, 4), np.int32)}, vocab=vocab, vocab_size=260)
    assert array.vocab is vocab and array.vocab_size == 260 and array.num_classes is None
    record = sources.RecordSource([], lambda rows: rows, vocab=vocab, vocab_size=260)
    assert record.vocab is vocab and record.vocab_size == 260


# ---- full-size builds ----------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name,sizes", [
    ("numbers_en_de", {"train": 50_000, "validation": 2_000, "test": 2_000}),
    ("mnist_captions", {"train": 20_000, "validation": 2_000, "test": 2_000}),
    ("python_docstrings", None),
])
def test_full_builds(tmp_path, name, sizes):
    builder = text_builders.TEXT_BUILDERS[name](data_dir=str(tmp_path), file_format="array_record")
    builder.download_and_prepare()
    lengths = {split: info.num_examples for split, info in builder.info.splits.items()}
    if sizes:
        assert lengths == sizes
    else:  # about 90/5/5 of some thousands of docstrings (8,604 for Python 3.11)
        total = sum(lengths.values())
        assert total > 5000 and lengths["train"] > 0.8 * total and min(lengths.values()) > 0.02 * total
        modules = set()
        for split in builder.as_data_source().values():
            modules |= {split[i]["module"].decode() for i in range(len(split))}
        assert {"argparse", "json.decoder", "collections", "email.message"} <= modules
        assert not any(set(m.split(".")) & {"test", "tests", "idle_test"} for m in modules)
        assert "antigravity" not in sys.modules and "this" not in sys.modules

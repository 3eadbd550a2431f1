"""Tokenisers for the text datasets: one interface, three vocabularies, one id convention.

Every tokeniser has `.size` (the vocabulary size), `.encode(text) -> list[int]`,
`.encode_batch(texts) -> list[list[int]]` and `.decode(ids) -> str`, which stops at the first EOS and
skips PAD and BOS. The first four ids are the same in every vocabulary:

    PAD = 0   right-pads every sequence to the batch's fixed length
    EOS = 1   ends every target sequence (and every translation source)
    BOS = 2   starts a decoder's input (the task shifts the target right by one BOS)
    UNK = 3   a word or piece that is not in the vocabulary

    vocab = WordVocab(CAPTION_WORDS)            # image captions: a fixed list of words
    vocab = ByteVocab()                         # character-level LM: UTF-8 bytes, byte b -> id b + 4
    vocab = sentencepiece_vocab("numbers_en_de", texts, 256, data_dir)   # translation (trained once)
    ids = pad([vocab.encode(s) + [EOS] for s in sentences], max_length)  # int32 (n, max_length)
"""
import collections
import hashlib
import io
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence

import jax
import numpy as np
from absl import logging
from jax.experimental import multihost_utils

PAD, EOS, BOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "</s>", "<s>", "<unk>")  # SentencePiece's own names for them

# The words of "four thousand one hundred and twelve": captions of the numbers 10..9,999 (and zero).
CAPTION_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    "hundred", "thousand", "and")


def _content(ids, size: int) -> list[int]:
    """The ids before the first EOS, without PAD and BOS (what decode shows)."""
    out = []
    for i in np.asarray(ids).reshape(-1).tolist():
        if not 0 <= i < size:
            raise ValueError(f"id {i} is outside the vocabulary's range 0..{size - 1}.")
        if i == EOS:
            break
        if i not in (PAD, BOS):
            out.append(i)
    return out


class WordVocab:
    """Whitespace-separated words; ids 4, 5, ... in the order given. Unknown words encode as UNK."""

    def __init__(self, words: Sequence[str]):
        words = tuple(words)
        clashes = [w for w in words if w in SPECIALS or not w or w.split() != [w]]
        if clashes or len(set(words)) != len(words):
            raise ValueError(f"WordVocab needs distinct words without whitespace, none of {SPECIALS}; "
                             f"got {len(words)} words, {len(set(words))} distinct, bad ones: {clashes}.")
        self.words = SPECIALS + words
        self.ids = {w: i for i, w in enumerate(self.words)}
        self.size = len(self.words)

    def encode(self, text: str) -> list[int]:
        """The ids of the whitespace-separated words of `text`; unknown words are UNK. No EOS added."""
        return [self.ids.get(w, UNK) for w in text.split()]

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """encode of each text."""
        return [self.encode(t) for t in texts]

    def decode(self, ids) -> str:
        """The words of `ids` up to the first EOS, PAD and BOS skipped, joined by spaces."""
        return " ".join(self.words[i] for i in _content(ids, self.size))


class ByteVocab:
    """UTF-8 bytes: byte b is id b + 4, so size 260 and no text is ever unknown. Decoding replaces
    invalid UTF-8 (a model's cut-off multi-byte character) with U+FFFD instead of failing."""

    size = 256 + len(SPECIALS)

    def encode(self, text: str) -> list[int]:
        """The UTF-8 bytes of `text`, each b as id b + 4. No EOS added."""
        return self.encode_array(text).tolist()

    def encode_array(self, text: str) -> np.ndarray:
        """The ids as an int32 array: a whole corpus at once without a Python list per byte."""
        return np.frombuffer(text.encode("utf-8"), np.uint8).astype(np.int32) + len(SPECIALS)

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """encode of each text."""
        return [self.encode(t) for t in texts]

    def decode(self, ids) -> str:
        """The text of `ids` up to the first EOS, PAD and BOS skipped; UNK and invalid UTF-8
        become U+FFFD."""
        chunks = []
        for i in _content(ids, self.size):
            chunks.append(b"\xef\xbf\xbd" if i == UNK else bytes([i - len(SPECIALS)]))  # UNK: U+FFFD
        return b"".join(chunks).decode("utf-8", errors="replace")


class SentencePieceVocab:
    """A trained SentencePiece model whose special ids follow the convention above."""

    def __init__(self, model_file: str):
        import sentencepiece as spm

        self.path = model_file
        self.processor = spm.SentencePieceProcessor(model_file=model_file)
        specials = tuple(self.processor.id_to_piece(i) for i in range(len(SPECIALS)))
        if specials != SPECIALS:
            raise ValueError(f"{model_file} has special pieces {specials} at ids 0..3, expected {SPECIALS}: "
                             f"train it with pad_id=0, eos_id=1, bos_id=2, unk_id=3 (delete the file and "
                             f"sentencepiece_vocab trains a new one).")
        self.size = self.processor.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """The SentencePiece ids of `text`. No EOS added."""
        return self.processor.encode(text)

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """encode of each text, in one call."""
        return self.processor.encode(list(texts))  # one call: SentencePiece encodes a list in C++

    def decode(self, ids) -> str:
        """The text of `ids` up to the first EOS, PAD and BOS skipped."""
        return self.processor.decode(_content(ids, self.size))


def _capped(texts: Iterable[str], max_characters: int):
    """The texts, stopping once `max_characters` have been yielded (WMT's 4.5M pairs are far more
    than a vocabulary needs; flax/examples/wmt caps at 10M characters too)."""
    total = 0
    for text in texts:
        if total >= max_characters:
            return
        if text:
            total += len(text)
            yield text


def frequent_symbols(texts: Iterable[str], pattern: re.Pattern, min_count: int = 3) -> list[str]:
    """The strings matching `pattern` that occur at least `min_count` times in `texts`, most frequent
    first (ties in string order): the pieces a vocabulary should keep whole (e.g. "%s", "%.250s")."""
    counts = collections.Counter(m for t in texts for m in pattern.findall(t))
    return sorted((m for m, n in counts.items() if n >= min_count), key=lambda m: (-counts[m], m))


def train_sentencepiece(texts: Iterable[str], vocab_size: int, max_characters: int = 10_000_000,
                        symbols: Sequence[str] = ()) -> bytes:
    """The bytes of a unigram SentencePiece model trained on `texts`, deterministic: one thread, the
    sentences in the order given, none sampled or shuffled away. Each of `symbols` is always one piece,
    and so is it after a space ("▁%s"): SentencePiece's own pieces never mix letters and punctuation,
    so it would cut "%d" in two."""
    import sentencepiece as spm

    if vocab_size <= len(SPECIALS):
        raise ValueError(f"vocab_size={vocab_size} leaves no room for pieces beside the {len(SPECIALS)} "
                         f"special ids; use a few hundred for numbers_en_de, 32000 for WMT.")
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=_capped(texts, max_characters), model_writer=model, vocab_size=vocab_size,
            model_type="unigram", character_coverage=1.0, pad_id=PAD, eos_id=EOS, bos_id=BOS, unk_id=UNK,
            num_threads=1, input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2,
            user_defined_symbols=[p for symbol in symbols for p in ("\u2581" + symbol, symbol)])
    except RuntimeError as e:  # e.g. "Vocabulary size too high (512). Please set it to a value <= 463."
        raise ValueError(f"SentencePiece cannot make a vocabulary of {vocab_size} pieces from this text: "
                         f"{e}. Choose another vocab_size.") from e
    return model.getvalue()


def sentencepiece_vocab(name: str, texts: Iterable[str], vocab_size: int, directory: str,
                        max_characters: int = 10_000_000, keep_whole: re.Pattern | None = None) -> SentencePieceVocab:
    """The SentencePiece vocabulary `name` of `vocab_size` pieces, trained on `texts` the first time and
    cached as <directory>/deepzoo_spm/<name>_<vocab_size>.model (directory: the TFDS data dir).

    keep_whole: the strings matching it that occur at least 3 times in the training text become pieces
    of their own (frequent_symbols; e.g. the format placeholders of gettext messages). The file name
    then ends in a hash of the pattern, so that a vocabulary trained without it is never reused.

    Pass the training split's texts only (for translation, both languages: one joint vocabulary).
    `texts` is only consumed when the model is trained. With several processes, process 0 trains
    first, so that processes sharing a disk never write the same file; the others then find it (or,
    on a disk of their own, train the same model: training is deterministic).
    """
    stem = f"{name.replace('/', '-')}_{vocab_size}"
    if keep_whole is not None:
        stem += "_" + hashlib.sha256(keep_whole.pattern.encode()).hexdigest()[:8]
    path = os.path.join(directory, "deepzoo_spm", stem + ".model")

    def train():
        if os.path.exists(path):
            return
        logging.info("Training the SentencePiece vocabulary %s (once; minutes for millions of characters).", path)
        start, done = time.perf_counter(), threading.Event()

        def heartbeat():   # SentencePiece reports nothing while it trains
            while not done.wait(30):
                logging.info("... still training the SentencePiece vocabulary (%.0f s).", time.perf_counter() - start)

        threading.Thread(target=heartbeat, daemon=True).start()
        try:
            capped = list(_capped(texts, max_characters))
            symbols = () if keep_whole is None else frequent_symbols(capped, keep_whole)
            if symbols:
                logging.info("%d strings kept whole: %s", len(symbols), " ".join(symbols[:20]))
            model = train_sentencepiece(capped, vocab_size, max_characters, symbols)
        finally:
            done.set()
        logging.info("SentencePiece vocabulary trained in %.0f s.", time.perf_counter() - start)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.incomplete.{os.getpid()}"
        with open(partial, "wb") as f:
            f.write(model)
        os.replace(partial, path)  # atomic: a reader sees no file or the whole file

    if jax.process_index() == 0:
        train()
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(f"sentencepiece {path}")
        if jax.process_index() > 0:
            train()
    return SentencePieceVocab(path)


def pad(ids_list: Sequence[Sequence[int]], length: int) -> np.ndarray:
    """Sequences right-padded with PAD into an int32 (len(ids_list), length) array.

    A longer sequence is cut to `length`; one that ended with EOS still ends with EOS (its last kept
    token becomes EOS), so a truncated target still teaches the model to stop. Truncating rather than
    dropping keeps every example, so a split's size and order match its reference texts (for BLEU).
    """
    if length <= 0:
        raise ValueError(f"pad length must be positive, got {length}.")
    out = np.full((len(ids_list), length), PAD, np.int32)
    for row, ids in enumerate(ids_list):
        ids = list(ids)
        if len(ids) > length:
            ids = ids[:length - 1] + [EOS] if ids[-1] == EOS else ids[:length]
        out[row, :len(ids)] = ids
    return out

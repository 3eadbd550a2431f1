"""The Markov chain of characters: an n-gram model, P(next symbol | the n - 1 before it).

Shannon 1948, "A mathematical theory of communication", Bell System Technical Journal 27, section 3: text
approximated by a Markov process of order n - 1 whose transition probabilities are the frequencies of
n-grams counted in a corpus. Unseen n-grams get probability through additive smoothing (add-k: Lidstone
1920; Chen & Goodman 1999, "An empirical study of smoothing techniques for language modeling", section 2.1):

    P(w | c) = (count(c, w) + k) / (count(c) + k V)          c: the n - 1 symbols before w, V: the vocabulary

    tokens (B, L) ──> contexts (B, L, n-1): the n - 1 symbols up to each position, PAD before the start
                  ──> cells (B, L, V): where count(c, w) of each next symbol w is kept
                  ──> log_counts[cells] = log(count + k) ──> log_softmax over w: log P(w | c)  (B, L, V)

Position i predicts token i + 1 (as the language_model task reads it), from tokens i - n + 2 .. i; a
window's first positions see PAD (id 0) in place of the symbols before it, as the recurrent nets start
each window from a zero state.

The counts live in one flat table of `table_size` cells; the parameter `log_counts` holds log(count + k) per
cell. With V^n cells or fewer (orders 1 and 2 of 260 bytes: 260 and 67,600 cells) each (context, next) pair
has its own cell. Above that the pair is hashed into the table (the hashing trick of Weinberger et al. 2009,
"Feature hashing for large scale multitask learning"): FNV-1a over the context's symbols and the next one,
a MurmurHash3 finaliser, modulo table_size. A plain hashed count would give an unseen pair the count of
whatever seen pair shares its cell (measured on python_docstrings: +0.4 bits per character for order 4, +0.8
for order 5). So every cell also keeps the sum of a 14-bit fingerprint of its pairs (two 7-bit hashes in
[1, 127], summed like the counts); solve keeps a cell's count only where the sums say that one pair filled it
(`owners`: that pair's fingerprint), and a query uses it only where its own fingerprint is the owner's: an
unseen pair matches another's cell with probability 2^-14 at most. Each pair is counted in two cells (two
hashes: "two choices") and read from whichever one it owns; it falls back to k, the count of an unseen pair
(`log_k`), only when it shares both. With D distinct pairs seen, that is a fraction of about
(2 D / table_size)^2 of them (python_docstrings' 266k distinct 5-grams in 2^23 cells: 0.4%). Measured against
exact counting (validation / test bits per character, add-k with k chosen on validation): order 3 3.036 / 2.897
(exact 3.034 / 2.894), order 5 2.805 / 2.388 (exact 2.777 / 2.361); with 2^22 cells order 5 loses 0.09 bits.
A context's row is normalised over all V symbols, so the probabilities sum to one for every context; without
collisions they are exactly add-k's. Counts of one cell must stay below 2^24 (float32 counts, int32
fingerprint sums).

Fitted by counting, not gradient descent: deepzoo/train/fit.py with the learner deepzoo/tasks/counting.py
(one pass; the counts are kept in the "counts" collection, so another k is a new solve, not a new pass).
"""
import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193


def _fmix32(h):
    """MurmurHash3's 32-bit finaliser: every input bit reaches every output bit."""
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def _fnv(h, symbol):
    """One FNV-1a step (uint32, wrapping)."""
    return (h ^ symbol.astype(jnp.uint32)) * jnp.uint32(_FNV_PRIME)


def _fingerprint(h):
    """Two 7-bit hashes (f, g) in [1, 127] of the pair hash h, (..., 2) int32."""
    v = _fmix32(h * jnp.uint32(0x9E3779B1) + jnp.uint32(0x7F4A7C15))
    f, g = (v & jnp.uint32(0xFFFF)) % 127 + 1, (v >> 16) % 127 + 1
    return jnp.stack([f, g], axis=-1).astype(jnp.int32)


class CharNGram(nn.Module):
    """Character n-gram model of `order` n; `log_counts` (cells,) hold log(count + k) of each (context, next)
    cell; hashed tables also hold `owners` (each cell's pair's fingerprint, 0 if none or several) and
    `log_k`. Before counting every cell is 0: the uniform distribution."""
    order: int = 5
    vocab_size: int = 260
    table_size: int = 1 << 23    # cells when V^order is larger (hashed); else V^order cells, one per n-gram
    pad_id: int = 0

    def __post_init__(self):
        if self.order < 1:
            raise ValueError(f"an n-gram model needs order >= 1 (1: unigram frequencies); got order={self.order}.")
        if not 0 < self.table_size < 2 ** 31:
            raise ValueError(f"table_size={self.table_size}: give a number of cells between 1 and 2^31 - 1.")
        super().__post_init__()

    @property
    def hashed(self) -> bool:
        """True when the (context, next) pairs are hashed into table_size cells (V^order is larger)."""
        return self.vocab_size ** self.order > self.table_size

    @property
    def num_cells(self) -> int:
        return self.table_size if self.hashed else self.vocab_size ** self.order

    def setup(self):
        self.log_counts = self.param("log_counts", nn.initializers.zeros, (self.num_cells,))
        if self.hashed:
            self.owners = self.param("owners", nn.initializers.zeros, (self.num_cells,), jnp.int32)
            self.log_k = self.param("log_k", nn.initializers.zeros, ())

    def contexts(self, tokens):
        """(B, L) -> (B, L, n - 1): the n - 1 symbols up to and including each position, oldest first, PAD
        before the start."""
        if not jnp.issubdtype(tokens.dtype, jnp.integer):
            raise ValueError(f"CharNGram reads token ids; got {tokens.dtype} inputs of shape {tuple(tokens.shape)}.")
        length, before = tokens.shape[-1], self.order - 2
        if self.order == 1:   # no context: the unigram frequencies
            return jnp.zeros((*tokens.shape, 0), tokens.dtype)
        padded = jnp.pad(tokens, [(0, 0)] * (tokens.ndim - 1) + [(before, 0)], constant_values=self.pad_id)
        return jnp.stack([padded[..., j:j + length] for j in range(self.order - 1)], axis=-1)

    def _context_state(self, tokens):
        """The running index (exact) or hash (hashed) of each position's context, (B, L)."""
        ctx = self.contexts(tokens)
        if self.hashed:
            h = jnp.full(tokens.shape, _FNV_OFFSET, jnp.uint32)
            for j in range(self.order - 1):
                h = _fnv(h, ctx[..., j])
            return h
        index = jnp.zeros(tokens.shape, jnp.int32)
        for j in range(self.order - 1):
            index = index * self.vocab_size + ctx[..., j]
        return index

    def _cell(self, state, symbol):
        """(cells, fingerprint) of (context, next symbol), shaped as state and symbol broadcast: the int32 cell
        (exact), or the two cells (..., 2) and the fingerprint, one int32 code 128 f + g (hashed; else None)."""
        if self.hashed:
            h = _fnv(state, symbol)
            size = jnp.uint32(self.table_size)
            first, second = _fmix32(h) % size, _fmix32(h ^ jnp.uint32(0x5BD1E995)) % size
            second = jnp.where(second == first, (first + 1) % size, second)   # two different cells
            f = _fingerprint(h)
            return jnp.stack([first, second], axis=-1).astype(jnp.int32), f[..., 0] * 128 + f[..., 1]
        return state * self.vocab_size + symbol, None

    def cells(self, tokens, targets):
        """The cells that count each (context, target) pair and its fingerprint: tokens and targets (B, L) ->
        (B, L) int32 and None (exact), or (B, L, 2) int32 (the two cells) and (B, L) int32 (hashed)."""
        return self._cell(self._context_state(tokens), targets.astype(jnp.int32))

    def __call__(self, tokens, *, train: bool = False):
        """(B, L) token ids -> (B, L, V) log-probabilities of the next token at every position."""
        state = self._context_state(tokens)
        cells, fingerprint = self._cell(state[..., None], jnp.arange(self.vocab_size, dtype=jnp.int32))  # (B, L, V)
        if self.hashed:    # a cell's count is this pair's only if the pair owns the cell; else k
            mine = self.owners[cells] == fingerprint[..., None]                          # (B, L, V, 2)
            log_counts = jnp.where(mine[..., 0], self.log_counts[cells[..., 0]],
                                   jnp.where(mine[..., 1], self.log_counts[cells[..., 1]], self.log_k))
        else:
            log_counts = self.log_counts[cells]
        return jax.nn.log_softmax(log_counts, axis=-1)


MODELS = {
    # 5-grams of bytes (configs/char_lm.py's 260-symbol vocabulary), 100-character windows.
    "char_ngram": (CharNGram, (jax.ShapeDtypeStruct((100,), np.int32),)),
}

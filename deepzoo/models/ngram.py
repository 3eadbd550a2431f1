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

The counts live in one flat table of `table_size` cells (the parameters: log(count + k) per cell). With
V^n cells or fewer (orders 1 and 2 of 260 bytes: 260 and 67,600 cells) each (context, next) pair has its
own cell. Above that the pair is hashed into the table (the hashing trick of Weinberger et al. 2009,
"Feature hashing for large scale multitask learning"): FNV-1a over the context's symbols and the next one,
a MurmurHash3 finaliser, modulo table_size. Two pairs that collide share a count, so an unseen pair may
inherit a seen pair's count; a context's row is still normalised over all V symbols, so the probabilities
sum to one for every context, and with no collision they are exactly the add-k estimate. With D distinct
pairs seen, a cell is taken with probability about D / table_size (python_docstrings' 266k distinct
5-grams in 2^22 cells: 6%).

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


class CharNGram(nn.Module):
    """Character n-gram model of `order` n; `log_counts` (cells,) hold log(count + k) of each (context, next)
    cell. Before counting every cell is 0: the uniform distribution."""
    order: int = 5
    vocab_size: int = 260
    table_size: int = 1 << 22    # cells when V^order is larger (hashed); else V^order cells, one per n-gram
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
        """The cell of (context, next symbol): int32 with the shape of broadcasting state and symbol."""
        if self.hashed:
            return (_fmix32(_fnv(state, symbol)) % jnp.uint32(self.table_size)).astype(jnp.int32)
        return state * self.vocab_size + symbol

    def cells(self, tokens, targets):
        """The cell that counts each (context, target) pair: tokens and targets (B, L) -> (B, L) int32."""
        return self._cell(self._context_state(tokens), targets.astype(jnp.int32))

    def __call__(self, tokens, *, train: bool = False):
        """(B, L) token ids -> (B, L, V) log-probabilities of the next token at every position."""
        state = self._context_state(tokens)
        cells = self._cell(state[..., None], jnp.arange(self.vocab_size, dtype=jnp.int32))   # (B, L, V)
        return jax.nn.log_softmax(self.log_counts[cells], axis=-1)


MODELS = {
    # 5-grams of bytes (configs/char_lm.py's 260-symbol vocabulary), 100-character windows.
    "char_ngram": (CharNGram, (jax.ShapeDtypeStruct((100,), np.int32),)),
}

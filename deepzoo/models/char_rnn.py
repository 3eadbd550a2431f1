"""Character-level language model (Karpathy's char-rnn and his 2015 post "The Unreasonable Effectiveness of
Recurrent Neural Networks": its "hello" example grown up).

    characters (B, L) -> Embed -> [cell scanned over time -> Dropout] x num_layers -> Dense(vocab)
    logits (B, L, vocab): at position t, the distribution of character t + 1

Sampling feeds each drawn character back: `start_decoding(prompt)` reads all of the prompt but its last
character, then `decode_step(last character, state)` gives the next distribution (deepzoo/inference/decoding.py
samples from it with a temperature). The default vocabulary is deepzoo.data.text.ByteVocab: 256 bytes
shifted by the 4 special ids.
"""
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from deepzoo.layers import recurrent
from deepzoo.layers.checks import check_tokens


class CharRNN(nn.Module):
    """Character-level recurrent language model (Karpathy 2015, char-rnn, github.com/karpathy/char-rnn).

    tokens (B, L) -> logits (B, L, vocab_size) of the next character; `cell` is "rnn", "gru" or "lstm",
    stacked num_layers deep."""
    vocab_size: int = 260
    embed_dim: int = 64           # an embedding is a one-hot input times a matrix, learned directly
    features: int = 512           # char-rnn's rnn_size 512, num_layers 2, dropout 0.5 for big corpora
    num_layers: int = 2
    cell: str = "lstm"
    dropout_rate: float = 0.0
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    def setup(self):
        if self.cell not in recurrent.CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; known: {', '.join(sorted(recurrent.CELLS))}.")
        self.embed = nn.Embed(self.vocab_size, self.embed_dim, dtype=self.dtype, param_dtype=self.param_dtype)
        self.cells = [recurrent.CELLS[self.cell](self.features, dtype=self.dtype, param_dtype=self.param_dtype,
                                                 name=f"layer{i + 1}") for i in range(self.num_layers)]
        self.dropout = nn.Dropout(self.dropout_rate)
        self.head = nn.Dense(self.vocab_size, dtype=self.dtype, param_dtype=self.param_dtype)

    def __call__(self, tokens, *, train: bool = False, initial_state=None, return_state: bool = False):
        """tokens (B, L) -> logits (B, L, vocab); with return_state also the carries after the last token."""
        check_tokens(tokens, "CharRNN", self.vocab_size)
        x = self.embed(tokens)
        state = []
        for i, cell in enumerate(self.cells):
            carry, x = recurrent.scan_cell(cell, x, initial_carry=None if initial_state is None
                                           else initial_state[i])
            x = self.dropout(x, deterministic=not train)
            state.append(carry)
        logits = self.head(x)
        return (logits, state) if return_state else logits

    def start_decoding(self, prompt):
        """The state after reading prompt[:, :-1]; sampling then starts from prompt[:, -1]."""
        if prompt.shape[1] < 2:
            return [cell.zero_carry(prompt.shape[0]) for cell in self.cells]
        return self(prompt[:, :-1], return_state=True)[1]

    def decode_step(self, tokens, state):
        """tokens (N,) -> logits (N, vocab) of the next character, the new state."""
        x, new_state = self.embed(tokens), []
        for cell, carry in zip(self.cells, state):
            carry, x = cell(carry, x)
            new_state.append(carry)
        return self.head(x), new_state


# Karpathy's char-rnn defaults (rnn_size 128, num_layers 2, seq_length 50), and its 512-unit size.
_SEQUENCE = (jax.ShapeDtypeStruct((50,), jnp.int32),)
MODELS = {
    "char_rnn": (functools.partial(CharRNN, cell="rnn", features=128), _SEQUENCE),
    "char_gru": (functools.partial(CharRNN, cell="gru", features=128), _SEQUENCE),
    "char_lstm": (functools.partial(CharRNN, cell="lstm", features=128), _SEQUENCE),
    "char_lstm_512": (functools.partial(CharRNN, cell="lstm", features=512), _SEQUENCE),
}

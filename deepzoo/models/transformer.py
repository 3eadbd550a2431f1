"""The Transformer: Vaswani et al. 2017, "Attention is all you need", NeurIPS 2017
(https://arxiv.org/abs/1706.03762), Figure 1.

    source ids -> E x sqrt(d) + PE -> dropout -> EncoderBlock x N                      -> memory
    [BOS, y_1, ..., y_{T-1}] -> E x sqrt(d) + PE -> dropout -> DecoderBlock x N (memory) -> x E^T -> logits

    EncoderBlock: x = LN(x + Dropout(SelfAttention(x)));  x = LN(x + Dropout(FFN(x)))      (post-LN)
    DecoderBlock: masked self-attention, cross-attention over the memory, FFN; each the same way
    FFN(x) = max(0, x W1 + b1) W2 + b2;   PE: sinusoids (deepzoo/layers/positions.py)

One embedding matrix E serves the source, the target and the pre-softmax projection (section 3.4: a
shared source-target vocabulary). pre_norm=True moves each LayerNorm before its branch and adds a final
one per stack (Xiong et al. 2020: trains without warm-up tricks); the paper's post-LN is the default.

    Table 3   N   d_model   d_ff   heads   P_drop   params (paper)   params here (37,000 shared tokens)
    base      6   512       2048   8       0.1      65M              63,082,496
    big       6   1024      4096   16      0.3      213M             214,245,376

Training (section 5): Adam (0.9, 0.98, 1e-9), lrate = d^-0.5 min(step^-0.5, step warmup^-1.5) with warmup
4000 (optimizer schedule "rsqrt"), label smoothing 0.1 (task seq2seq), checkpoint averaging
(deepzoo.train.checkpoint.average_variables). Decoding keeps a key/value cache per decoder layer
(start_decoding / decode_step, see deepzoo/inference/decoding.py) and projects the source into each
layer's cross-attention keys and values once: a new token costs one position's projections and one
row of attention, however long the prefix. Token ids: PAD 0, EOS 1, BOS 2.
"""
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from deepzoo.layers.attention import (DecoderBlock, EncoderBlock, causal_mask, empty_cache, memory_keys_values,
                                      padding_mask)
from deepzoo.layers.checks import check_tokens
from deepzoo.layers.positions import check_length, sinusoidal_positions

PAD = 0


class Transformer(nn.Module):
    """The Transformer (Vaswani et al. 2017): source (B, S) and decoder inputs (B, T), each at
    most max_length tokens -> logits (B, T, vocab_size), float32. encode, decode, start_decoding and
    decode_step are its parts for inference."""
    vocab_size: int = 37000           # one vocabulary for source and target (byte-pair encoding in the paper)
    d_model: int = 512
    num_heads: int = 8
    mlp_dim: int = 2048               # d_ff
    encoder_layers: int = 6
    decoder_layers: int = 6
    dropout_rate: float = 0.1         # P_drop: residual dropout and on embeddings + positions
    attention_dropout_rate: float = 0.0
    pre_norm: bool = False            # the paper: post-LN
    max_length: int = 256             # positions per sequence (sinusoids extend, but one bound keeps caches fixed)
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    def setup(self):
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        # N(0, d^-1/2): after the sqrt(d) scale the embeddings have unit variance, like the sinusoids.
        self.embed = nn.Embed(self.vocab_size, self.d_model, embedding_init=nn.initializers.normal(self.d_model ** -0.5),
                              name="shared_embedding", **kw)
        block = dict(num_heads=self.num_heads, mlp_dim=self.mlp_dim, dropout_rate=self.dropout_rate,
                     attention_dropout_rate=self.attention_dropout_rate, pre_norm=self.pre_norm,
                     activation=nn.relu, **kw)
        self.encoder = [EncoderBlock(**block, name=f"encoder_block{i + 1}") for i in range(self.encoder_layers)]
        self.decoder = [DecoderBlock(**block, name=f"decoder_block{i + 1}") for i in range(self.decoder_layers)]
        if self.pre_norm:  # pre-LN leaves the residual stream unnormalised: one LayerNorm after each stack
            self.encoder_norm = nn.LayerNorm(epsilon=1e-6, **kw)
            self.decoder_norm = nn.LayerNorm(epsilon=1e-6, **kw)
        self.dropout = nn.Dropout(self.dropout_rate)

    def _embed(self, tokens, offset, train: bool):
        """E[tokens] sqrt(d) + PE[offset : offset + length], then dropout."""
        positions = jax.lax.dynamic_slice_in_dim(sinusoidal_positions(self.max_length, self.d_model), offset,
                                                 tokens.shape[1])
        x = self.embed(tokens) * jnp.asarray(self.d_model ** 0.5, self.dtype) + positions.astype(self.dtype)
        return self.dropout(x, deterministic=not train)

    def encode(self, source, *, train: bool = False):
        """source (B, S) ids, PAD after EOS -> memory (B, S, d), memory_mask (B, 1, 1, S)."""
        check_tokens(source, "Transformer", self.vocab_size, "source tokens")
        check_length(source.shape[1], self.max_length, "Transformer", "source tokens")
        mask = padding_mask(source != PAD)
        x = self._embed(source, 0, train)
        for block in self.encoder:
            x, _ = block(x, mask=mask, train=train)
        return (self.encoder_norm(x) if self.pre_norm else x), mask

    def _decode(self, x, memory, memory_mask, self_mask, train: bool, caches=None, memory_kv=None):
        """Teacher forcing (no caches, the memory) or decoding (each layer's cache and memory_kv)."""
        caches = caches or [None] * len(self.decoder)
        memory_kv = memory_kv or [None] * len(self.decoder)
        new_caches = []
        for block, cache, kv in zip(self.decoder, caches, memory_kv):
            x, cache = block(x, memory, self_mask=self_mask, memory_mask=memory_mask, train=train, cache=cache,
                             memory_kv=kv)
            new_caches.append(cache)
        x = self.decoder_norm(x) if self.pre_norm else x
        return self.embed.attend(x).astype(jnp.float32), new_caches   # the shared embedding, transposed

    def __call__(self, source, previous, *, train: bool = False):
        """Teacher forcing: logits (B, T, vocab) of each target token given the source and the target
        tokens before it (previous = [BOS, y_1, ..., y_{T-1}])."""
        if source.shape[0] != previous.shape[0]:
            raise ValueError(f"Transformer: the source batch has {source.shape[0]} rows but the decoder "
                             f"inputs have {previous.shape[0]}; they must pair up.")
        return self.decode(*self.encode(source, train=train), previous, train=train)

    def decode(self, memory, memory_mask, previous, *, train: bool = False):
        """The decoder alone on a whole prefix (B, T): logits (B, T, vocab), given encode's outputs."""
        check_tokens(previous, "Transformer", self.vocab_size, "decoder inputs")
        check_length(previous.shape[1], self.max_length, "Transformer", "decoder inputs")
        x = self._embed(previous, 0, train)
        return self._decode(x, memory, memory_mask, causal_mask(previous.shape[1]), train)[0]

    def start_decoding(self, source, max_length: int | None = None):
        """The decoding state: every decoder layer's cross-attention keys and values of the encoded
        source (computed once here, not at every step) and an empty key/value cache per decoder layer
        with room for max_length tokens (default: the position table)."""
        max_length = max_length or self.max_length
        check_length(max_length, self.max_length, "Transformer", "decoded tokens")
        memory, memory_mask = self.encode(source)
        memory_kv = [memory_keys_values(block.variables["params"]["cross_attention"], memory, self.dtype)
                     for block in self.decoder]
        head_dim = self.d_model // self.num_heads
        cache = empty_cache(source.shape[0], max_length, self.num_heads, head_dim, self.dtype)
        return {"memory_kv": memory_kv, "memory_mask": memory_mask, "cache": [cache] * self.decoder_layers}

    def decode_step(self, tokens, state):
        """tokens (N,): each row's previous token -> logits (N, vocab), the state with the caches advanced.
        The position is the caches' index (one for all rows, so beam search leaves it alone)."""
        index = state["cache"][0]["index"]
        x = self._embed(tokens[:, None], index, train=False)
        logits, caches = self._decode(x, None, state["memory_mask"], None, False, state["cache"], state["memory_kv"])
        return logits[:, 0], {**state, "cache": caches}


TransformerBase = Transformer   # the defaults are Table 3's base model
TransformerBig = functools.partial(Transformer, d_model=1024, num_heads=16, mlp_dim=4096, dropout_rate=0.3)
# The offline number-words task (configs/numbers_translation.py): 256 pieces, 3 layers of width 128.
TransformerSmall = functools.partial(Transformer, vocab_size=256, d_model=128, num_heads=4, mlp_dim=512,
                                     encoder_layers=3, decoder_layers=3, max_length=64)

_TOKENS = jax.ShapeDtypeStruct((64,), jnp.int32)
MODELS = {
    "transformer_base": (TransformerBase, (_TOKENS, _TOKENS)),
    "transformer_big": (TransformerBig, (_TOKENS, _TOKENS)),
    "transformer_small": (TransformerSmall, (_TOKENS, _TOKENS)),
}

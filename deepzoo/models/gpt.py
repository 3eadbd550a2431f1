"""GPT-2: Radford et al. 2019, "Language models are unsupervised multitask learners" (decoder-only).

    token ids (B, T) -> wte[ids] + wpe[0..T-1] -> dropout
    -> DecoderBlock x n_layer: masked self-attention, then MLP (pre-LN: x + attention(LN(x)),
       x + MLP(LN(x)), GELU (tanh))
    -> LayerNorm ln_f -> x wte^T -> next-token logits (B, T, vocab)

GPT is a Transformer decoder (Radford et al. 2018): its blocks, decoder_block1..n_layer, are the
Transformer's decoder blocks (deepzoo/layers/attention.py) without the cross-attention, each with
`attention` (masked multi-head self-attention) and `mlp` (the position-wise feed-forward network).
wte, wpe and ln_f are GPT-2's names: token embedding, position embedding, final LayerNorm.
Initialisation as in GPT-2's code (and nanoGPT): N(0, 0.02) everywhere, the projections that end each
residual branch scaled by 1/sqrt(2 n_layer), since 2 n_layer of them add up in the residual stream.

    model          n_layer   d      heads   parameters (vocabulary 50,257, context 1,024; tied output)
    gpt2 (small)   12        768    12      124,439,808
    gpt2_medium    24        1024   16      354,823,168
    gpt2_large     36        1280   20      774,030,080
    gpt2_xl        48        1600   25      1,557,611,200

Decoding keeps a key/value cache per block (start_decoding / prefill / decode_step);
deepzoo.inference.decoding.continue_prompt samples a continuation of a prompt with temperature and top-k.
"""
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from deepzoo.layers.attention import DecoderBlock, causal_mask, empty_cache
from deepzoo.layers.checks import check_tokens
from deepzoo.layers.positions import check_length

gelu_tanh = functools.partial(nn.gelu, approximate=True)  # GPT-2's GELU


class GPT(nn.Module):
    """GPT-2 (Radford et al. 2019), a decoder-only Transformer: tokens (B, T), T <= max_length ->
    next-token logits (B, T, vocab_size), float32. start_decoding, prefill and decode_step decode with a
    key/value cache."""
    vocab_size: int = 50257
    max_length: int = 1024          # n_ctx: rows of the learned position table
    num_layers: int = 12
    d_model: int = 768
    num_heads: int = 12
    mlp_dim: int | None = None      # default 4 d
    dropout_rate: float = 0.1       # embeddings, attention weights, residual branches
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    def setup(self):
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        init = nn.initializers.normal(0.02)
        self.wte = nn.Embed(self.vocab_size, self.d_model, embedding_init=init, **kw)
        self.wpe = nn.Embed(self.max_length, self.d_model, embedding_init=init, **kw)
        block = dict(dropout_rate=self.dropout_rate, attention_dropout_rate=self.dropout_rate, pre_norm=True,
                     epsilon=1e-5, activation=gelu_tanh, kernel_init=init,
                     out_kernel_init=nn.initializers.normal(0.02 / (2 * self.num_layers) ** 0.5),
                     use_cross_attention=False, **kw)
        self.decoder = [DecoderBlock(self.num_heads, self.mlp_dim or 4 * self.d_model, **block,
                                     name=f"decoder_block{i + 1}") for i in range(self.num_layers)]
        self.ln_f = nn.LayerNorm(epsilon=1e-5, **kw)
        self.dropout = nn.Dropout(self.dropout_rate)

    def _hidden(self, tokens, offset, mask, train: bool, caches=None):
        """-> (the final LayerNorm's output (B, T, d), the caches)."""
        x = self.wte(tokens) + self.wpe(offset + jnp.arange(tokens.shape[1]))
        x = self.dropout(x, deterministic=not train)
        new_caches = []
        for block, cache in zip(self.decoder, caches or [None] * self.num_layers):
            x, cache = block(x, self_mask=mask, train=train, cache=cache)
            new_caches.append(cache)
        return self.ln_f(x), new_caches

    def _run(self, tokens, offset, mask, train: bool, caches=None):
        x, caches = self._hidden(tokens, offset, mask, train, caches)
        return self.wte.attend(x).astype(jnp.float32), caches

    def __call__(self, tokens, *, train: bool = False):
        """tokens (B, T) -> logits (B, T, vocab): position t predicts token t + 1."""
        check_tokens(tokens, "GPT", self.vocab_size)
        check_length(tokens.shape[1], self.max_length, "GPT")
        return self._run(tokens, 0, causal_mask(tokens.shape[1]), train)[0]

    def start_decoding(self, batch_size: int, max_length: int | None = None):
        """Empty key/value caches for batch_size rows and max_length tokens (default: the context)."""
        max_length = max_length or self.max_length
        check_length(max_length, self.max_length, "GPT", "prompt and generated tokens")
        cache = empty_cache(batch_size, max_length, self.num_heads, self.d_model // self.num_heads, self.dtype)
        return {"cache": [cache] * self.num_layers}

    def prefill(self, tokens, state):
        """Runs a prompt (B, P) through the caches at once: the logits (B, P, vocab), the advanced state."""
        check_tokens(tokens, "GPT", self.vocab_size, "prompt tokens")
        logits, caches = self._run(tokens, state["cache"][0]["index"], None, False, state["cache"])
        return logits, {"cache": caches}

    def decode_step(self, tokens, state):
        """tokens (N,) -> logits (N, vocab) for the next position, and the state one token further."""
        logits, caches = self._run(tokens[:, None], state["cache"][0]["index"], None, False, state["cache"])
        return logits[:, 0], {"cache": caches}


class GPTReward(GPT):
    """A reward model (Ouyang et al. 2022, step 2; Stiennon et al. 2020): GPT's blocks, and a linear head on the
    final LayerNorm's output at each sequence's last token: tokens (B, T), right-padded with pad_id -> one
    scalar reward per sequence (B,), float32."""
    pad_id: int = 0

    def setup(self):
        super().setup()
        self.reward_head = nn.Dense(1, kernel_init=nn.initializers.normal(0.02), dtype=self.dtype,
                                    param_dtype=self.param_dtype)

    def __call__(self, tokens, *, train: bool = False):
        check_tokens(tokens, "GPT reward model", self.vocab_size)
        check_length(tokens.shape[1], self.max_length, "GPT reward model")
        x, _ = self._hidden(tokens, 0, causal_mask(tokens.shape[1]), train)                # (B, T, d)
        # the last token that is not padding (a sampled answer may hold padding before it)
        last = jnp.max(jnp.where(tokens != self.pad_id, jnp.arange(tokens.shape[1]), 0), axis=1)   # (B,)
        return self.reward_head(x[jnp.arange(x.shape[0]), last])[:, 0].astype(jnp.float32)


class GPTPolicy(GPT):
    """A policy with a value head for PPO on tokens (Ouyang et al. 2022, step 3; Ziegler et al. 2019): GPT, whose
    parameters start from the supervised model's, and a linear head on the final LayerNorm's output at every
    position: tokens (B, T) -> (next-token logits (B, T, vocab), values (B, T)), float32; the value at t is the
    expected return of the sequence so far, before token t + 1 is drawn."""

    def setup(self):
        super().setup()
        self.value_head = nn.Dense(1, kernel_init=nn.initializers.zeros, dtype=self.dtype,
                                   param_dtype=self.param_dtype)

    def __call__(self, tokens, *, train: bool = False):
        check_tokens(tokens, "GPT policy", self.vocab_size)
        check_length(tokens.shape[1], self.max_length, "GPT policy")
        x, _ = self._hidden(tokens, 0, causal_mask(tokens.shape[1]), train)                # (B, T, d)
        return self.wte.attend(x).astype(jnp.float32), self.value_head(x)[..., 0].astype(jnp.float32)


GPT2 = GPT   # the defaults are GPT-2 small
GPT2Medium = functools.partial(GPT, num_layers=24, d_model=1024, num_heads=16)
GPT2Large = functools.partial(GPT, num_layers=36, d_model=1280, num_heads=20)
GPT2XL = functools.partial(GPT, num_layers=48, d_model=1600, num_heads=25)
# A character-level GPT for the offline docstring corpus (configs/char_lm.py:gpt): the 260 byte ids of
# deepzoo.data.text.ByteVocab, 4 blocks of width 192 (1.8M parameters, about the GRU's and LSTM's FLOPs).
GPTSmall = functools.partial(GPT, vocab_size=260, max_length=256, num_layers=4, d_model=192, num_heads=6)

# RLHF in miniature (deepzoo/data/sorting.py): 15 token ids, 27 positions; 2 blocks of width 64 (0.1M parameters).
GPTSort = functools.partial(GPT, vocab_size=15, max_length=27, num_layers=2, d_model=64, num_heads=4, dropout_rate=0.0)
GPTSortPolicy = functools.partial(GPTPolicy, vocab_size=15, max_length=27, num_layers=2, d_model=64, num_heads=4,
                                  dropout_rate=0.0)
GPTSortReward = functools.partial(GPTReward, vocab_size=15, max_length=27, num_layers=2, d_model=64, num_heads=4,
                                  dropout_rate=0.0)

_CONTEXT = jax.ShapeDtypeStruct((1024,), jnp.int32)
MODELS = {
    "gpt2": (GPT2, (_CONTEXT,)),
    "gpt2_medium": (GPT2Medium, (_CONTEXT,)),
    "gpt2_large": (GPT2Large, (_CONTEXT,)),
    "gpt2_xl": (GPT2XL, (_CONTEXT,)),
    "gpt_small": (GPTSmall, (jax.ShapeDtypeStruct((256,), jnp.int32),)),
    "gpt_sort": (GPTSort, (jax.ShapeDtypeStruct((26,), jnp.int32),)),
    "gpt_sort_policy": (GPTSortPolicy, (jax.ShapeDtypeStruct((26,), jnp.int32),)),
    "gpt_sort_reward": (GPTSortReward, (jax.ShapeDtypeStruct((27,), jnp.int32),)),
}

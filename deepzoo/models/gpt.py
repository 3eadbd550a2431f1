"""GPT-2: Radford et al. 2019, "Language models are unsupervised multitask learners" (decoder-only).

    token ids (B, T) -> wte[ids] + wpe[0..T-1] -> dropout
    -> EncoderBlock x n_layer with a causal mask (pre-LN: x + attn(LN(x)), x + MLP(LN(x)), GELU (tanh))
    -> LayerNorm -> x wte^T -> next-token logits (B, T, vocab)

The blocks are the ones ViT and BERT use (deepzoo/layers/attention.py); only the mask and pre_norm
differ. Initialisation as in GPT-2's code (and nanoGPT): N(0, 0.02) everywhere, the projections that end
each residual branch scaled by 1/sqrt(2 n_layer), since 2 n_layer of them add up in the residual stream.

    model          n_layer   d      heads   parameters (vocabulary 50,257, context 1,024; tied output)
    gpt2 (small)   12        768    12      124,439,808
    gpt2_medium    24        1024   16      354,823,168
    gpt2_large     36        1280   20      774,030,080
    gpt2_xl        48        1600   25      1,557,611,200

Decoding keeps a key/value cache per block (start_decoding / decode_step); `generate` samples a
continuation of a prompt with temperature and top-k.
"""
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from deepzoo.layers.attention import EncoderBlock, causal_mask, empty_cache
from deepzoo.layers.checks import check_tokens
from deepzoo.layers.positions import check_length
from deepzoo.models import decoding

gelu_tanh = functools.partial(nn.gelu, approximate=True)  # GPT-2's GELU


class GPT(nn.Module):
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
        self.blocks = [EncoderBlock(self.num_heads, self.mlp_dim or 4 * self.d_model, dropout_rate=self.dropout_rate,
                                    attention_dropout_rate=self.dropout_rate, pre_norm=True, epsilon=1e-5,
                                    activation=gelu_tanh, kernel_init=init,
                                    out_kernel_init=nn.initializers.normal(0.02 / (2 * self.num_layers) ** 0.5),
                                    name=f"block{i + 1}", **kw)
                       for i in range(self.num_layers)]
        self.ln_f = nn.LayerNorm(epsilon=1e-5, **kw)
        self.dropout = nn.Dropout(self.dropout_rate)

    def _run(self, tokens, offset, mask, train: bool, caches=None):
        x = self.wte(tokens) + self.wpe(offset + jnp.arange(tokens.shape[1]))
        x = self.dropout(x, deterministic=not train)
        new_caches = []
        for i, block in enumerate(self.blocks):
            if caches is None:
                x = block(x, mask=mask, train=train)
            else:
                x, cache = block(x, mask=mask, train=train, cache=caches[i])
                new_caches.append(cache)
        return self.wte.attend(self.ln_f(x)).astype(jnp.float32), new_caches

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


def generate(model: GPT, variables, prompt, rng, *, max_new_tokens: int, temperature: float = 1.0,
             top_k: int = 0, eos_id: int | None = None):
    """Samples max_new_tokens after each prompt row (B, P): int32 (B, max_new_tokens).

    The prompt but its last token fills the caches in one pass; the last one is the first token fed to
    the sampler. temperature 0 is greedy; top_k 0 keeps every token. Given eos_id, a row stops at it.
    """
    batch, length = prompt.shape
    check_length(length + max_new_tokens, model.max_length, "GPT", "prompt and generated tokens")
    state = model.apply(variables, batch, length + max_new_tokens, method="start_decoding")
    if length > 1:
        _, state = model.apply(variables, prompt[:, :-1], state, method="prefill")
    step = lambda tokens, state, t: model.apply(variables, tokens, state, method="decode_step")
    return decoding.sample_decode(step, state, rng, batch_size=batch, bos_id=prompt[:, -1], eos_id=eos_id,
                                  max_length=max_new_tokens, temperature=temperature, top_k=top_k)


GPT2 = GPT   # the defaults are GPT-2 small
GPT2Medium = functools.partial(GPT, num_layers=24, d_model=1024, num_heads=16)
GPT2Large = functools.partial(GPT, num_layers=36, d_model=1280, num_heads=20)
GPT2XL = functools.partial(GPT, num_layers=48, d_model=1600, num_heads=25)
# A character-level GPT for the offline docstring corpus (configs/char_lm.py:gpt): the 260 byte ids of
# deepzoo.data.text.ByteVocab, 4 blocks of width 192 (1.8M parameters, about the GRU's and LSTM's FLOPs).
GPTSmall = functools.partial(GPT, vocab_size=260, max_length=256, num_layers=4, d_model=192, num_heads=6)

_CONTEXT = jax.ShapeDtypeStruct((1024,), jnp.int32)
MODELS = {
    "gpt2": (GPT2, (_CONTEXT,)),
    "gpt2_medium": (GPT2Medium, (_CONTEXT,)),
    "gpt2_large": (GPT2Large, (_CONTEXT,)),
    "gpt2_xl": (GPT2XL, (_CONTEXT,)),
    "gpt_small": (GPTSmall, (jax.ShapeDtypeStruct((256,), jnp.int32),)),
}

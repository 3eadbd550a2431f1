"""BERT: Devlin et al. 2019, "BERT: Pre-training of deep bidirectional transformers for language
understanding", NAACL 2019 (https://arxiv.org/abs/1810.04805).

    token ids (B, L), segment ids (B, L)
    -> word + position + segment embeddings -> LayerNorm -> dropout
    -> EncoderBlock x 12 (post-LN as in the 2017 Transformer, GELU, no causal mask: every token sees both sides)
    -> sequence output (B, L, d);  pooler: tanh(Dense(d)) of the [CLS] token (B, d)
    masked-LM head: Dense(d) -> GELU -> LayerNorm -> x word_embeddings^T + bias -> logits (B, L, vocab)

    BERT-base (uncased): 12 layers, d 768, 12 heads, 3072, vocabulary 30,522, 512 positions, 2 segments:
    109,482,240 parameters with the pooler (HuggingFace's BertModel), + 622,650 for the masked-LM head.

The blocks are the ones ViT and GPT use (deepzoo/layers/attention.py). Initialisation N(0, 0.02) and
LayerNorm epsilon 1e-12 as in the reference code. Pre-training (task masked_lm) hides 15% of the tokens:
80% of those become [MASK], 10% a random token, 10% stay; the loss is over the hidden ones only.
"""
import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from deepzoo.layers.attention import EncoderBlock, gelu, padding_mask
from deepzoo.layers.checks import check_tokens
from deepzoo.layers.positions import check_length

PAD = 0


class BertEncoder(nn.Module):
    """Embeddings, the encoder stack and the pooler: what fine-tuning starts from."""
    vocab_size: int = 30522
    max_length: int = 512
    type_vocab_size: int = 2
    num_layers: int = 12
    d_model: int = 768
    num_heads: int = 12
    mlp_dim: int = 3072
    dropout_rate: float = 0.1
    init_std: float = 0.02          # N(0, init_std) for every kernel and embedding (the reference code's 0.02)
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, tokens, segments=None, *, train: bool = False):
        """-> sequence output (B, L, d), pooled [CLS] output (B, d)."""
        check_tokens(tokens, "BERT", self.vocab_size)
        check_length(tokens.shape[1], self.max_length, "BERT")
        if segments is not None and segments.shape != tokens.shape:
            raise ValueError(f"BERT: segment ids of shape {segments.shape} do not match the tokens' "
                             f"{tokens.shape}; give one segment id (0 or 1) per token.")
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        init = nn.initializers.normal(self.init_std)
        embed = functools.partial(nn.Embed, features=self.d_model, embedding_init=init, **kw)
        segments = jnp.zeros_like(tokens) if segments is None else segments
        x = (embed(self.vocab_size, name="word_embeddings")(tokens)
             + embed(self.max_length, name="position_embeddings")(jnp.arange(tokens.shape[1]))
             + embed(self.type_vocab_size, name="segment_embeddings")(segments))
        x = nn.LayerNorm(epsilon=1e-12, name="embeddings_norm", **kw)(x)
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        mask = padding_mask(tokens != PAD)
        for i in range(self.num_layers):
            block = EncoderBlock(self.num_heads, self.mlp_dim, dropout_rate=self.dropout_rate,
                                 attention_dropout_rate=self.dropout_rate, pre_norm=False, epsilon=1e-12,
                                 activation=gelu, kernel_init=init, name=f"layer{i + 1}", **kw)
            x, _ = block(x, mask=mask, train=train)   # (x, no cache)
        pooled = jnp.tanh(nn.Dense(self.d_model, kernel_init=init, name="pooler", **kw)(x[:, 0]))
        return x, pooled


class BERT(BertEncoder):
    """BertEncoder (its fields, its parameters under "bert") with the masked-language-model head, whose
    output layer is the word embeddings."""

    def setup(self):
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        fields = [f.name for f in dataclasses.fields(BertEncoder) if f.name not in ("parent", "name")]
        self.bert = BertEncoder(**{f: getattr(self, f) for f in fields})
        self.transform = nn.Dense(self.d_model, kernel_init=nn.initializers.normal(self.init_std), **kw)
        self.transform_norm = nn.LayerNorm(epsilon=1e-12, **kw)
        self.output_bias = self.param("output_bias", nn.initializers.zeros, (self.vocab_size,), self.param_dtype)

    def __call__(self, tokens, segments=None, *, train: bool = False):
        """Masked-LM logits (B, L, vocab) for every position (the task picks the hidden ones)."""
        x, _ = self.bert(tokens, segments, train=train)
        x = self.transform_norm(gelu(self.transform(x)))
        word_embeddings = self.bert.variables["params"]["word_embeddings"]["embedding"]
        logits = x @ word_embeddings.T.astype(self.dtype) + self.output_bias.astype(self.dtype)
        return logits.astype(jnp.float32)

    def encode(self, tokens, segments=None):
        """(sequence output, pooled output) of the encoder, for fine-tuning and probing."""
        return self.bert(tokens, segments)


BertBase = BERT   # the defaults are BERT-base (uncased)
BertLarge = functools.partial(BERT, num_layers=24, d_model=1024, num_heads=16, mlp_dim=4096)
# A byte-level BERT for the offline docstring corpus (configs/masked_lm.py): 4 layers of width 192.
BertSmall = functools.partial(BERT, vocab_size=260, max_length=128, num_layers=4, d_model=192, num_heads=6,
                              mlp_dim=768)

MODELS = {
    "bert_base": (BertBase, (jax.ShapeDtypeStruct((512,), jnp.int32),)),
    "bert_large": (BertLarge, (jax.ShapeDtypeStruct((512,), jnp.int32),)),
    "bert_small": (BertSmall, (jax.ShapeDtypeStruct((128,), jnp.int32),)),
}

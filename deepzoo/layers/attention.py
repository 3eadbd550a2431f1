"""Attention: the one implementation that ViT, Swin and the Transformers of the zoo share.

Scaled dot-product attention (Vaswani et al. 2017, "Attention is all you need", eq. 1):

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d) + bias, masked) V

Shapes follow flax: queries (..., q_len, heads, head_dim), keys and values (..., kv_len, heads, head_dim);
any leading axes are batch axes (Swin uses (batch, windows)). `mask` (True = may attend) and `bias`
(added to the logits, e.g. Swin's relative position bias or ALiBi) broadcast to (..., heads, q_len, kv_len).

    x ─> MultiHeadAttention: q, k, v = x W_q, x_kv W_k, x_kv W_v (split into heads) -> attention -> W_o

    EncoderBlock (pre-LN, ViT):   x = x + MHA(LN(x));  x = x + MLP(LN(x))
                 (post-LN, 2017): x = LN(x + MHA(x));  x = LN(x + MLP(x))
"""
import functools
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

# Exact GELU, as in the ViT paper (eq. 3 cites Hendrycks & Gimpel) and torchvision; flax defaults to tanh.
gelu = functools.partial(nn.gelu, approximate=False)


def causal_mask(q_len: int, kv_len: int | None = None):
    """(q_len, kv_len) boolean: query i sees keys 0..i (the last query is aligned with the last key)."""
    kv_len = q_len if kv_len is None else kv_len
    return jnp.tril(jnp.ones((q_len, kv_len), bool), k=kv_len - q_len)


def padding_mask(valid):
    """(batch, kv_len) boolean, True for real tokens -> (batch, 1, 1, kv_len): no query sees a pad key."""
    return jnp.asarray(valid, bool)[:, None, None, :]


def attention_weights(q, k, *, mask=None, bias=None):
    """softmax(q k^T / sqrt(d) + bias) over the keys, computed in float32: (..., heads, q_len, kv_len)."""
    q = q * jnp.asarray(q.shape[-1] ** -0.5, q.dtype)  # scale q (cheaper than scaling the logits)
    # Accumulate the logits in float32 even for bf16 inputs: softmax is where low precision hurts.
    logits = jnp.einsum("...qhd,...khd->...hqk", q, k, preferred_element_type=jnp.float32)
    if bias is not None:
        logits = logits + bias.astype(jnp.float32)
    if mask is not None:
        # The most negative float rather than -inf: a row with every key masked gets uniform weights
        # (its output is then meaningless but finite) instead of NaNs that would poison the gradients.
        logits = jnp.where(mask, logits, jnp.finfo(jnp.float32).min)
    return jax.nn.softmax(logits, axis=-1)


def dot_product_attention(q, k, v, *, mask=None, bias=None, dropout_rate: float = 0.0, dropout_rng=None,
                          deterministic: bool = True):
    """Attention of q over (k, v): (..., q_len, heads, head_dim) in the dtype of v.

    Dropout (rate `dropout_rate`, needs `dropout_rng`) acts on the attention weights, as in the 2017 paper.
    """
    if q.shape[-1] != k.shape[-1] or k.shape[-3] != v.shape[-3]:
        raise ValueError(f"attention needs q (..., q_len, heads, d), k (..., kv_len, heads, d) and v "
                         f"(..., kv_len, heads, d_v); got q {q.shape}, k {k.shape}, v {v.shape}.")
    weights = attention_weights(q, k, mask=mask, bias=bias)
    if not deterministic and dropout_rate > 0.0:
        keep = jax.random.bernoulli(dropout_rng, 1.0 - dropout_rate, weights.shape)
        weights = jnp.where(keep, weights / (1.0 - dropout_rate), 0.0)
    return jnp.einsum("...hqk,...khd->...qhd", weights.astype(v.dtype), v)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with separate q/k/v projections (with biases) and an output projection.

    Separate projections hold exactly the parameters of PyTorch's fused in_proj (3 D^2 + 3 D) and allow
    cross-attention (x_kv from the encoder). Kernels are (D, heads, head_dim) and (heads, head_dim, D).
    """
    num_heads: int
    qkv_features: int | None = None    # total width of q, k, v (heads * head_dim); default: input width
    out_features: int | None = None    # default: input width
    dropout_rate: float = 0.0          # on the attention weights
    use_bias: bool = True
    kernel_init: Callable = nn.initializers.xavier_uniform()  # PyTorch's MultiheadAttention default
    bias_init: Callable = nn.initializers.zeros
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x_q, x_kv=None, *, mask=None, bias=None, train: bool = False):
        x_kv = x_q if x_kv is None else x_kv    # self-attention unless told otherwise
        features = self.qkv_features or x_q.shape[-1]
        if features % self.num_heads:
            raise ValueError(f"{self.name}: qkv_features={features} is not divisible by num_heads="
                             f"{self.num_heads}.")
        head_dim = features // self.num_heads
        proj = functools.partial(nn.DenseGeneral, features=(self.num_heads, head_dim), use_bias=self.use_bias,
                                 kernel_init=self.kernel_init, bias_init=self.bias_init, dtype=self.dtype,
                                 param_dtype=self.param_dtype)
        q = proj(name="query")(x_q)
        k = proj(name="key")(x_kv)
        v = proj(name="value")(x_kv)
        deterministic = not train or self.dropout_rate == 0.0
        y = dot_product_attention(q, k, v, mask=mask, bias=bias, dropout_rate=self.dropout_rate,
                                  dropout_rng=None if deterministic else self.make_rng("dropout"),
                                  deterministic=deterministic)
        return nn.DenseGeneral(self.out_features or x_q.shape[-1], axis=(-2, -1), use_bias=self.use_bias,
                               kernel_init=self.kernel_init, bias_init=self.bias_init, dtype=self.dtype,
                               param_dtype=self.param_dtype, name="out")(y)


class MlpBlock(nn.Module):
    """Dense(mlp_dim) -> activation -> dropout -> Dense(input width) -> dropout: the transformer's MLP."""
    mlp_dim: int
    dropout_rate: float = 0.0
    activation: Callable = gelu
    kernel_init: Callable = nn.initializers.xavier_uniform()
    bias_init: Callable = nn.initializers.zeros
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        dense = functools.partial(nn.Dense, kernel_init=self.kernel_init, bias_init=self.bias_init,
                                  dtype=self.dtype, param_dtype=self.param_dtype)
        y = self.activation(dense(self.mlp_dim, name="fc1")(x))
        y = nn.Dropout(self.dropout_rate, deterministic=not train)(y)
        y = dense(x.shape[-1], name="fc2")(y)
        return nn.Dropout(self.dropout_rate, deterministic=not train)(y)


def drop_path(x, rate: float, train: bool):
    """Stochastic depth (Huang et al. 2016): drop a whole residual branch per example, scale the rest."""
    return nn.Dropout(rate, broadcast_dims=tuple(range(1, x.ndim)), deterministic=not train)(x)


class EncoderBlock(nn.Module):
    """Transformer encoder block: self-attention then MLP, each with a residual connection.

    pre_norm=True (ViT, GPT-2): x + f(LN(x)), which trains deep stacks without warm-up tricks.
    pre_norm=False (Vaswani et al. 2017, BERT): LN(x + f(x)).
    Tokens are (..., length, width); mask/bias go to the attention (causal, padding, relative position).
    """
    num_heads: int
    mlp_dim: int
    dropout_rate: float = 0.0            # on each branch's output (and inside the MLP)
    attention_dropout_rate: float = 0.0  # on the attention weights
    drop_path_rate: float = 0.0          # stochastic depth on both branches (Swin, DeiT)
    pre_norm: bool = True
    epsilon: float = 1e-6                # LayerNorm epsilon: 1e-6 in ViT, 1e-5 in PyTorch's default
    activation: Callable = gelu
    kernel_init: Callable = nn.initializers.xavier_uniform()
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, mask=None, bias=None, train: bool = False):
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        norm1 = nn.LayerNorm(epsilon=self.epsilon, name="norm1", **kw)
        norm2 = nn.LayerNorm(epsilon=self.epsilon, name="norm2", **kw)
        attention = MultiHeadAttention(self.num_heads, dropout_rate=self.attention_dropout_rate,
                                       kernel_init=self.kernel_init, name="attention", **kw)
        mlp = MlpBlock(self.mlp_dim, dropout_rate=self.dropout_rate, activation=self.activation,
                       kernel_init=self.kernel_init, name="mlp", **kw)

        def attend(y):
            y = attention(y, mask=mask, bias=bias, train=train)
            return nn.Dropout(self.dropout_rate, deterministic=not train)(y)

        def feed_forward(y):
            return mlp(y, train=train)

        if self.pre_norm:
            x = x + drop_path(attend(norm1(x)), self.drop_path_rate, train)
            x = x + drop_path(feed_forward(norm2(x)), self.drop_path_rate, train)
        else:
            x = norm1(x + drop_path(attend(x), self.drop_path_rate, train))
            x = norm2(x + drop_path(feed_forward(x), self.drop_path_rate, train))
        return x

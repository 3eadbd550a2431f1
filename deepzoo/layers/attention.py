"""Attention: the one implementation that ViT, Swin and the Transformers of the zoo share.

Scaled dot-product attention (Vaswani et al. 2017, "Attention is all you need", eq. 1):

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d) + bias, masked) V

Shapes follow flax: queries (..., q_len, heads, head_dim), keys and values (..., kv_len, heads, head_dim);
any leading axes are batch axes (Swin uses (batch, windows)). `mask` (True = may attend) and `bias`
(added to the logits, e.g. Swin's relative position bias or ALiBi) broadcast to (..., heads, q_len, kv_len).

    x ─> MultiHeadAttention: q, k, v = x W_q, x_kv W_k, x_kv W_v (split into heads) -> attention -> W_o

    EncoderBlock (pre-LN, ViT): x = x + MHA(LN(x));  x = x + MLP(LN(x))
                 (post-LN, 2017, BERT): x = LN(x + MHA(x));  x = LN(x + MLP(x))
    DecoderBlock: masked self-attention, then cross-attention over the encoder's memory, then MLP
                  (GPT's decoder block, deepzoo/models/gpt.py, is this without cross-attention)

Fast autoregressive decoding keeps a cache of keys and values per self-attention layer,
{"key": (B, max_length, heads, head_dim), "value": ..., "index": int32 scalar} (`empty_cache`): each
step projects only the new tokens, writes their keys and values at `index`, and attends over the
positions written so far, so a token costs the same whatever the prefix, apart from attention itself.
MultiHeadAttention, EncoderBlock and DecoderBlock return one type, the pair (output, cache), with or
without a cache: given `cache=`, the new cache; without, None.
Cross-attention reads a memory that does not change while decoding: `memory_keys_values` projects it
once per source, and `memory_kv=` hands the result to MultiHeadAttention or DecoderBlock, so a decoding
step does not project the whole source again in every layer.

Attention weights are exposed one way in the zoo: sown into the "intermediates" collection under
"attention_weights", (B, heads, q_len, kv_len). model.apply(..., mutable=["intermediates"]) returns them
for every layer, and `sown_attention_weights` reads them back by layer (heatmaps, alignment figures).
The recurrent decoders' additive and multiplicative attention (deepzoo/models/seq2seq.py) sow theirs
the same way, as one head.
"""
import functools
from typing import Any, Callable

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

# Exact GELU, as in the ViT paper (eq. 3 cites Hendrycks & Gimpel) and torchvision; flax defaults to tanh.
gelu = functools.partial(nn.gelu, approximate=False)


def causal_mask(q_len: int, kv_len: int | None = None):
    """(q_len, kv_len) boolean: query i sees keys 0..i (the last query is aligned with the last key)."""
    kv_len = q_len if kv_len is None else kv_len
    return jnp.tril(jnp.ones((q_len, kv_len), bool), k=kv_len - q_len)


def padding_mask(valid):
    """(batch, kv_len) boolean, True for real tokens -> (batch, 1, 1, kv_len): no query sees a pad key."""
    return jnp.asarray(valid, bool)[:, None, None, :]


def empty_cache(batch: int, max_length: int, num_heads: int, head_dim: int, dtype=jnp.float32) -> dict:
    """The key/value cache of one self-attention layer before the first token: nothing written yet."""
    zeros = jnp.zeros((batch, max_length, num_heads, head_dim), dtype)
    return {"key": zeros, "value": zeros, "index": jnp.zeros((), jnp.int32)}


def memory_keys_values(attention_params, memory, dtype=jnp.float32) -> dict:
    """{"key", "value"}: (B, S, heads, head_dim), what the MultiHeadAttention whose parameters are
    `attention_params` computes from x_kv=memory (B, S, width), for `memory_kv=`."""
    def project(p):  # parent=None: a free-standing layer even when called inside another module
        dense = nn.DenseGeneral(p["kernel"].shape[1:], use_bias="bias" in p, dtype=dtype, parent=None)
        return dense.apply({"params": p}, memory)
    return {"key": project(attention_params["key"]), "value": project(attention_params["value"])}


def sown_attention_weights(intermediates) -> dict:
    """{layer path: weights (batch..., heads, q_len, kv_len)} from the "intermediates" that
    model.apply(..., mutable=["intermediates"]) returns, in the model's layer order; e.g.
    "decoder_block1/cross_attention" (the Transformer) or "decoder" (the recurrent decoders)."""
    flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(intermediates), sep="/")
    return {path.removesuffix("/attention_weights"): value[0]      # sow keeps a tuple: one call each
            for path, value in flat.items() if path.endswith("attention_weights")}


def _check_broadcasts(name: str, array, logits_shape, hint: str):
    shape = tuple(jnp.shape(array))
    try:
        ok = jnp.broadcast_shapes(shape, logits_shape) == tuple(logits_shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"attention {name} of shape {shape} does not broadcast to the attention logits "
                         f"(batch..., heads, q_len, kv_len) = {tuple(logits_shape)}; {hint}")


def attention_weights(q, k, *, mask=None, bias=None):
    """softmax(q k^T / sqrt(d) + bias) over the keys, computed in float32: (..., heads, q_len, kv_len)."""
    q = q * jnp.asarray(q.shape[-1] ** -0.5, q.dtype)  # scale q (cheaper than scaling the logits)
    # Accumulate the logits in float32 even for bf16 inputs: softmax is where low precision hurts.
    logits = jnp.einsum("...qhd,...khd->...hqk", q, k, preferred_element_type=jnp.float32)
    if bias is not None:
        _check_broadcasts("bias", bias, logits.shape, "give it (heads, q_len, kv_len) or a shape that "
                          "broadcasts to it.")
        logits = logits + bias.astype(jnp.float32)
    if mask is not None:
        _check_broadcasts("mask", mask, logits.shape, "build it with causal_mask(q_len, kv_len) -> (q_len, "
                          "kv_len) or padding_mask(valid (batch, kv_len)) -> (batch, 1, 1, kv_len).")
        # The most negative float rather than -inf: a row with every key masked gets uniform weights
        # (its output is then meaningless but finite) instead of NaNs that would poison the gradients.
        logits = jnp.where(mask, logits, jnp.finfo(jnp.float32).min)
    return jax.nn.softmax(logits, axis=-1)


def dot_product_attention(q, k, v, *, mask=None, bias=None, dropout_rate: float = 0.0, dropout_rng=None,
                          deterministic: bool = True):
    """Attention of q over (k, v): (..., q_len, heads, head_dim) in the dtype of v.

    Dropout (rate `dropout_rate`, needs `dropout_rng`) acts on the attention weights, as in the 2017 paper.
    """
    return _attend(q, k, v, mask=mask, bias=bias, dropout_rate=dropout_rate, dropout_rng=dropout_rng,
                   deterministic=deterministic)[0]


def _attend(q, k, v, *, mask, bias, dropout_rate, dropout_rng, deterministic):
    """dot_product_attention that also returns the weights (before dropout)."""
    if q.shape[-1] != k.shape[-1] or k.shape[-3] != v.shape[-3]:
        raise ValueError(f"attention needs q (..., q_len, heads, d), k (..., kv_len, heads, d) and v "
                         f"(..., kv_len, heads, d_v); got q {q.shape}, k {k.shape}, v {v.shape}.")
    weights = dropped = attention_weights(q, k, mask=mask, bias=bias)
    if not deterministic and dropout_rate > 0.0:
        keep = jax.random.bernoulli(dropout_rng, 1.0 - dropout_rate, weights.shape)
        dropped = jnp.where(keep, weights / (1.0 - dropout_rate), 0.0)
    return jnp.einsum("...hqk,...khd->...qhd", dropped.astype(v.dtype), v), weights


def _write_cache(cache, k, v):
    """Writes the new tokens' keys and values at cache["index"]; returns the cache and the mask
    (q_len, max_length) that lets new token i see the cached positions up to index + i."""
    for name, new in (("key", k), ("value", v)):
        old = cache[name]
        if old.shape[0] != new.shape[0] or old.shape[2:] != new.shape[2:]:
            raise ValueError(f"the attention cache's {name} is {old.shape} (batch, max_length, heads, "
                             f"head_dim) but the new tokens' {name} is {new.shape}; make the cache with "
                             f"empty_cache(batch, max_length, heads, head_dim) for this layer.")
    index = cache["index"]
    start = (0, index, 0, 0)
    new_cache = {"key": lax.dynamic_update_slice(cache["key"], k.astype(cache["key"].dtype), start),
                 "value": lax.dynamic_update_slice(cache["value"], v.astype(cache["value"].dtype), start),
                 "index": index + k.shape[1]}
    positions = jnp.arange(cache["key"].shape[1])
    mask = positions[None, :] <= index + jnp.arange(k.shape[1])[:, None]
    return new_cache, mask

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
    out_kernel_init: Callable | None = None                   # the output projection's; default kernel_init
    bias_init: Callable = nn.initializers.zeros
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x_q, x_kv=None, *, mask=None, bias=None, train: bool = False, cache=None,
                 memory_kv=None):
        """x_q (..., q_len, width) attends over x_kv (..., kv_len, width_kv), itself by default.

        Returns (output, cache). With `cache` (self-attention only; see empty_cache), x_q holds the next
        tokens: their keys and values are written into the cache, they attend over every cached position
        up to their own, and the returned cache is the new one; `mask` then covers (q_len, max_length).
        Without it the returned cache is None.
        With `memory_kv` (from memory_keys_values) x_kv's keys and values are given: x_kv is unused."""
        if cache is not None and (x_kv is not None or memory_kv is not None):
            raise ValueError(f"{self.name}: a key/value cache is for self-attention; cross-attention "
                             f"(x_kv or memory_kv given) takes no cache.")
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
        if memory_kv is None:
            k, v = proj(name="key")(x_kv), proj(name="value")(x_kv)
        else:
            k, v = memory_kv["key"], memory_kv["value"]
        if cache is not None:
            cache, written = _write_cache(cache, k, v)
            k, v = cache["key"], cache["value"]
            mask = written if mask is None else mask & written
        deterministic = not train or self.dropout_rate == 0.0
        y, weights = _attend(q, k, v, mask=mask, bias=bias, dropout_rate=self.dropout_rate,
                             dropout_rng=None if deterministic else self.make_rng("dropout"),
                             deterministic=deterministic)
        self.sow("intermediates", "attention_weights", weights)
        y = nn.DenseGeneral(self.out_features or x_q.shape[-1], axis=(-2, -1), use_bias=self.use_bias,
                            kernel_init=self.out_kernel_init or self.kernel_init, bias_init=self.bias_init, dtype=self.dtype,
                            param_dtype=self.param_dtype, name="out")(y)
        return y, cache


class MlpBlock(nn.Module):
    """Dense(mlp_dim) -> activation -> dropout -> Dense(input width) -> dropout: the transformer's MLP."""
    mlp_dim: int
    dropout_rate: float = 0.0
    activation: Callable = gelu
    kernel_init: Callable = nn.initializers.xavier_uniform()
    out_kernel_init: Callable | None = None   # fc2's; default kernel_init
    bias_init: Callable = nn.initializers.zeros
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        """(..., D) -> (..., D)."""
        dense = functools.partial(nn.Dense, kernel_init=self.kernel_init, bias_init=self.bias_init,
                                  dtype=self.dtype, param_dtype=self.param_dtype)
        y = self.activation(dense(self.mlp_dim, name="fc1")(x))
        y = nn.Dropout(self.dropout_rate, deterministic=not train)(y)
        y = dense(x.shape[-1], kernel_init=self.out_kernel_init or self.kernel_init, name="fc2")(y)
        return nn.Dropout(self.dropout_rate, deterministic=not train)(y)


def drop_path(x, rate: float, train: bool):
    """Stochastic depth (Huang et al. 2016): drop a whole residual branch per example, scale the rest."""
    return nn.Dropout(rate, broadcast_dims=tuple(range(1, x.ndim)), deterministic=not train)(x)


class EncoderBlock(nn.Module):
    """Transformer encoder block: self-attention then MLP, each with a residual connection.

    pre_norm=True (ViT, Swin): x + f(LN(x)), which trains deep stacks without warm-up tricks.
    pre_norm=False (Vaswani et al. 2017, BERT): LN(x + f(x)).
    Tokens are (..., length, width); mask/bias go to the attention (causal, padding, relative position).
    Returns (x, cache): the new key/value cache when `cache` (see empty_cache) is given, else None.
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
    out_kernel_init: Callable | None = None  # the branches' last layers (GPT-2 scales them by 1/sqrt(2 L))
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, mask=None, bias=None, train: bool = False, cache=None):
        sub = _Sublayers(self, train)
        x, cache = sub.residual(x, "norm1", lambda y: sub.self_attention(y, mask, bias, cache))
        x, _ = sub.residual(x, "norm2", sub.feed_forward)
        return x, cache


class DecoderBlock(nn.Module):
    """Transformer decoder block (Vaswani et al. 2017, Figure 1, right): masked self-attention over the
    target so far, cross-attention over the encoder's memory, then MLP; each with a residual connection
    and LayerNorm after it (post-LN, the paper) or before the branch (pre_norm=True).
    use_cross_attention=False leaves the cross-attention out: the block of a decoder-only model (GPT),
    with norm1 before the self-attention and norm2 before the MLP.

    self_mask: (q_len, q_len) from causal_mask; with `cache` it may be None (the cache already hides
    the future). memory_mask: (batch, 1, 1, source_len) from padding_mask. memory_kv: the
    cross-attention's keys and values of the memory, computed once with
    memory_keys_values(params["cross_attention"], memory) for a decoding loop (memory is then unused).
    Returns (x, cache): the new key/value cache when `cache` is given, else None.
    """
    num_heads: int
    mlp_dim: int
    dropout_rate: float = 0.0
    attention_dropout_rate: float = 0.0
    drop_path_rate: float = 0.0
    pre_norm: bool = False
    epsilon: float = 1e-6
    activation: Callable = nn.relu       # the 2017 paper's FFN: max(0, x W1 + b1) W2 + b2
    kernel_init: Callable = nn.initializers.xavier_uniform()
    out_kernel_init: Callable | None = None
    use_cross_attention: bool = True
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, memory=None, *, self_mask=None, memory_mask=None, train: bool = False, cache=None,
                 memory_kv=None):
        """x (B, T, width), attending to itself and (with cross-attention) to memory (B, S, width_m) ->
        (x (B, T, width), the new cache or None)."""
        sub = _Sublayers(self, train)
        x, cache = sub.residual(x, "norm1", lambda y: sub.self_attention(y, self_mask, None, cache))
        if not self.use_cross_attention:
            x, _ = sub.residual(x, "norm2", sub.feed_forward)
            return x, cache
        if memory is None and memory_kv is None:  # else the cross-attention would attend over x itself
            raise ValueError(f"{self.name}: cross-attention needs the encoder's memory (or memory_kv); a "
                             f"decoder-only model's block takes use_cross_attention=False.")
        x, _ = sub.residual(x, "norm2", lambda y: sub.cross_attention(y, memory, memory_mask, memory_kv))
        x, _ = sub.residual(x, "norm3", sub.feed_forward)
        return x, cache


class _Sublayers:
    """The sublayers the blocks are made of, created in the calling block's scope (their parameters are
    the block's: attention, cross_attention, mlp, norm1..3). Each returns (output, cache or None)."""

    def __init__(self, block, train: bool):
        self.b, self.train = block, train
        self.kw = dict(dtype=block.dtype, param_dtype=block.param_dtype)

    def residual(self, x, norm_name: str, f):
        """x + f(LN(x)) (pre-LN) or LN(x + f(x)) (post-LN), with dropout and stochastic depth on f."""
        b = self.b
        norm = nn.LayerNorm(epsilon=b.epsilon, name=norm_name, **self.kw)
        y, cache = f(norm(x) if b.pre_norm else x)
        x = x + drop_path(y, b.drop_path_rate, self.train)
        return (x if b.pre_norm else norm(x)), cache

    def _attention(self, name: str):
        b = self.b
        return MultiHeadAttention(b.num_heads, dropout_rate=b.attention_dropout_rate, kernel_init=b.kernel_init,
                                  out_kernel_init=b.out_kernel_init, name=name, **self.kw)

    def _dropout(self, y):
        return nn.Dropout(self.b.dropout_rate, deterministic=not self.train)(y)

    def self_attention(self, y, mask, bias, cache):
        y, cache = self._attention("attention")(y, mask=mask, bias=bias, train=self.train, cache=cache)
        return self._dropout(y), cache

    def cross_attention(self, y, memory, mask, memory_kv):
        y, _ = self._attention("cross_attention")(y, memory, mask=mask, train=self.train, memory_kv=memory_kv)
        return self._dropout(y), None

    def feed_forward(self, y):
        b = self.b
        mlp = MlpBlock(b.mlp_dim, dropout_rate=b.dropout_rate, activation=b.activation, kernel_init=b.kernel_init,
                       out_kernel_init=b.out_kernel_init, name="mlp", **self.kw)
        return mlp(y, train=self.train), None   # MlpBlock ends with its own dropout

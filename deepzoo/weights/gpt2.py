"""Hugging Face's GPT-2 (transformers.GPT2LMHeadModel) -> deepzoo.models.gpt (gpt2, gpt2_medium, gpt2_large, gpt2_xl).

    transformer.wte, wpe                    -> wte, wpe
    transformer.h.{i}.ln_1, ln_2            -> decoder_block{i+1}/norm1, norm2
    transformer.h.{i}.attn.c_attn           -> decoder_block{i+1}/attention/query, key, value  (fused along the output)
    transformer.h.{i}.attn.c_proj           -> decoder_block{i+1}/attention/out
    transformer.h.{i}.mlp.c_fc, c_proj      -> decoder_block{i+1}/mlp/fc1, fc2
    transformer.ln_f                        -> ln_f
    lm_head.weight                          -> nothing: a copy of wte (tied), which the hub's files leave out too

GPT-2's Conv1D stores its weight as (in, out), a Dense kernel's layout: nothing is transposed, only split into heads.
The hub's gpt2 files hold GPT2Model's keys, without "transformer." (gpt2_model.py registers that layout); older ones
also hold the causal-mask buffers attn.bias and attn.masked_bias, which are read and dropped.
"""
import numpy as np

from deepzoo.weights.rules import Converter, Rule, embedding, layer_norm, tensor

# Buffers of older files, and the tied output layer.
IGNORE = ("*.attn.bias", "*.attn.masked_bias", "lm_head.weight")


def _conv1d(prefix: str, path: str) -> list[Rule]:
    """GPT-2's Conv1D `prefix` (weight (in, out)) -> nn.Dense at `path`."""
    return [tensor(f"{prefix}.weight", ("params", *path.split("/"), "kernel")),
            tensor(f"{prefix}.bias", ("params", *path.split("/"), "bias"))]


def _attention(prefix: str, path: str, heads: int) -> list[Rule]:
    """attn.c_attn (weight (D, 3D): q, k, v side by side) and attn.c_proj (D, D) -> MultiHeadAttention at `path`:
    query/key/value kernels (D, heads, head_dim), out kernel (heads, head_dim, D)."""
    names = ("query", "key", "value")
    targets = tuple(("params", *path.split("/"), n, leaf) for n in names for leaf in ("kernel", "bias"))

    def to_flax(w, b):
        d = w.shape[0]
        kernels, biases = np.split(w, 3, axis=1), np.split(b, 3)
        return [a for k, c in zip(kernels, biases) for a in (k.reshape(d, heads, -1), c.reshape(heads, -1))]

    def to_torch(qk, qb, kk, kb, vk, vb):
        d = qk.shape[0]
        return (np.concatenate([k.reshape(d, -1) for k in (qk, kk, vk)], axis=1),
                np.concatenate([b.reshape(-1) for b in (qb, kb, vb)]))
    out = ("params", *path.split("/"), "out")
    return [Rule((f"{prefix}.c_attn.weight", f"{prefix}.c_attn.bias"), targets, to_flax, to_torch),
            tensor(f"{prefix}.c_proj.weight", (*out, "kernel"), lambda w: w.reshape(heads, -1, w.shape[1]),
                   lambda k: k.reshape(-1, k.shape[2])),
            tensor(f"{prefix}.c_proj.bias", (*out, "bias"))]


def rules(model, variables, prefix: str = "transformer.") -> list:
    out = embedding(f"{prefix}wte", "wte") + embedding(f"{prefix}wpe", "wpe")
    for i in range(model.num_layers):
        h, block = f"{prefix}h.{i}", f"decoder_block{i + 1}"
        out += layer_norm(f"{h}.ln_1", f"{block}/norm1") + _attention(f"{h}.attn", f"{block}/attention",
                                                                        model.num_heads)
        out += layer_norm(f"{h}.ln_2", f"{block}/norm2")
        out += _conv1d(f"{h}.mlp.c_fc", f"{block}/mlp/fc1") + _conv1d(f"{h}.mlp.c_proj", f"{block}/mlp/fc2")
    return out + layer_norm(f"{prefix}ln_f", "ln_f")


NAMES = ("gpt2", "gpt2_medium", "gpt2_large", "gpt2_xl")
CONVERTERS = {name: Converter(rules, "transformers.GPT2LMHeadModel", IGNORE) for name in NAMES}

"""torchvision's Swin-T/S/B (torchvision.models.swin_t, swin_s, swin_b) -> deepzoo.models.swin.

    features.0.0, .0.2                          -> patch_embed, patch_embed_norm      (.0.1: permute to NHWC)
    features.{2s-1}.{b}.norm1, .norm2           -> stage{s}_block{b+1}/encoder/norm1, norm2
                       .attn.qkv, .attn.proj    -> stage{s}_block{b+1}/encoder/attention/query, key, value; out
                       .attn.relative_position_bias_table -> stage{s}_block{b+1}/relative_position_bias_table
                       .attn.relative_position_index      -> nothing (a buffer that the model computes)
                       .mlp.0, .mlp.3           -> stage{s}_block{b+1}/encoder/mlp/fc1, fc2
    features.{2s-2}.norm, .reduction  (s >= 2)  -> patch_merging{s}/norm, reduction
    norm, head                                  -> norm, head

qkv (3D, D) is split into deepzoo's separate q, k, v kernels as vit.attention does. The patch merging concatenates
the 2x2 neighbours in torchvision's order (x0, x1, x2, x3) in the model itself, so its reduction loads unchanged.
torchvision pads a feature map smaller than the window up to it, where deepzoo shrinks the window instead: the
two agree where every stage's map is a multiple of the window and no smaller, as at 224x224 with M = 7.
"""
import math

import numpy as np

from deepzoo.models.swin import relative_position_index
from deepzoo.weights.rules import Converter, Rule, conv, dense, layer_norm, tensor
from deepzoo.weights.vit import attention, query_shape


def position_index(key: str, table_rows: int) -> Rule:
    """The relative_position_index buffer of a window whose bias table has `table_rows` = (2M - 1)^2 rows: read
    and dropped on import, written back on export (torch's strict loading expects it)."""
    window = (math.isqrt(table_rows) + 1) // 2
    index = relative_position_index(window).reshape(-1).astype(np.int64)
    return Rule((key,), (), lambda i: (), lambda: (index,))


def block(key: str, path: str, variables, mlp=("mlp.0", "mlp.3")) -> list[Rule]:
    """A Swin block `key` (torchvision's or, with mlp=("mlp.fc1", "mlp.fc2"), timm's) -> SwinBlock at `path`,
    without the relative_position_index buffer."""
    enc = f"{path}/encoder"
    out = layer_norm(f"{key}.norm1", f"{enc}/norm1") + layer_norm(f"{key}.norm2", f"{enc}/norm2")
    out += attention(f"{key}.attn.qkv.weight", f"{key}.attn.qkv.bias", f"{key}.attn.proj", f"{enc}/attention",
                     query_shape(variables, f"{enc}/attention"))
    out.append(tensor(f"{key}.attn.relative_position_bias_table", ("params", path, "relative_position_bias_table")))
    return out + dense(f"{key}.{mlp[0]}", f"{enc}/mlp/fc1") + dense(f"{key}.{mlp[1]}", f"{enc}/mlp/fc2")


def rules(model, variables) -> list:
    params = variables["params"]
    out = conv("features.0.0", "patch_embed") + layer_norm("features.0.2", "patch_embed_norm")
    for s, depth in enumerate(model.depths, start=1):
        if s > 1:
            out += layer_norm(f"features.{2 * s - 2}.norm", f"patch_merging{s}/norm")
            out += dense(f"features.{2 * s - 2}.reduction", f"patch_merging{s}/reduction", bias=False)
        for b in range(depth):
            key, path = f"features.{2 * s - 1}.{b}", f"stage{s}_block{b + 1}"
            out += block(key, path, variables)
            out.append(position_index(f"{key}.attn.relative_position_index",
                                      params[path]["relative_position_bias_table"].shape[0]))
    return out + layer_norm("norm", "norm") + dense("head", "head")


CONVERTERS = {name: Converter(rules, f"torchvision.models.{name}") for name in ("swin_t", "swin_s", "swin_b")}

"""torchvision's ViT-B/16, B/32, L/16 (torchvision.models.vit_b_16, vit_b_32, vit_l_16) -> deepzoo.models.vit.

    conv_proj                                       -> patch_embed
    class_token                                     -> cls_token
    encoder.pos_embedding                           -> pos_embedding
    encoder.layers.encoder_layer_{i}.ln_1, .ln_2    -> encoder_block{i+1}/norm1, norm2
        .self_attention.in_proj_weight, _bias       -> encoder_block{i+1}/attention/query, key, value
        .self_attention.out_proj                    -> encoder_block{i+1}/attention/out
        .mlp.0, .mlp.3                              -> encoder_block{i+1}/mlp/fc1, fc2   (.1, .2: GELU, dropout)
    encoder.ln                                      -> norm
    heads.head                                      -> head

nn.MultiheadAttention fuses q, k and v into one in_proj (3D, D), each head's rows together; deepzoo keeps them
apart as (D, heads, head_dim) kernels and the output projection as (heads, head_dim, D): `attention` splits and
reshapes (also used by swin.py and the timm converters, whose qkv Linear has the same layout).
The position embeddings fix the image size: load at another size with input_shape=(H, W, 3).
"""
import numpy as np

from deepzoo.weights.rules import Converter, Rule, conv, dense, layer_norm, tensor


def attention(in_weight: str, in_bias: str, out: str, path: str, shape) -> list[Rule]:
    """A fused in-projection (keys `in_weight` (3D, D): the rows of q, k, v; `in_bias` (3D,)) and the output
    Linear `out` -> MultiHeadAttention at `path`, whose query kernel is `shape` (D, heads, head_dim)."""
    d, heads, head_dim = shape
    base = ("params", *path.split("/"))
    kernels = tuple((*base, n, "kernel") for n in ("query", "key", "value"))
    biases = tuple((*base, n, "bias") for n in ("query", "key", "value"))

    def split_weight(w):  # (3 * heads * head_dim, D) -> 3 x (D, heads, head_dim)
        if w.shape != (3 * heads * head_dim, d):  # left as it is, so that the shape check names it
            return w, w, w
        return tuple(np.transpose(w.reshape(3, heads, head_dim, d), (0, 3, 1, 2)))

    def fuse_weight(*ks):
        return (np.concatenate([k.reshape(d, -1).T for k in ks]),)

    def split_bias(b):
        return (b, b, b) if b.shape != (3 * heads * head_dim,) else tuple(b.reshape(3, heads, head_dim))

    def fuse_bias(*bs):
        return (np.concatenate([b.reshape(-1) for b in bs]),)

    def out_to_flax(w):  # (D, heads * head_dim) -> (heads, head_dim, D)
        return w if w.shape != (d, heads * head_dim) else w.T.reshape(heads, head_dim, d)

    return [Rule((in_weight,), kernels, split_weight, fuse_weight),
            Rule((in_bias,), biases, split_bias, fuse_bias),
            tensor(f"{out}.weight", (*base, "out", "kernel"), out_to_flax, lambda k: k.reshape(-1, d).T),
            tensor(f"{out}.bias", (*base, "out", "bias"))]


def query_shape(variables, path: str) -> tuple:
    """The shape (D, heads, head_dim) of the query kernel of the MultiHeadAttention at `path`."""
    node = variables["params"]
    for key in path.split("/"):
        node = node[key]
    return tuple(node["query"]["kernel"].shape)


def rules(model, variables) -> list:
    out = conv("conv_proj", "patch_embed")
    out.append(tensor("class_token", ("params", "cls_token")))
    out.append(tensor("encoder.pos_embedding", ("params", "pos_embedding")))
    for i in range(model.depth):
        key, path = f"encoder.layers.encoder_layer_{i}", f"encoder_block{i + 1}"
        out += layer_norm(f"{key}.ln_1", f"{path}/norm1") + layer_norm(f"{key}.ln_2", f"{path}/norm2")
        out += attention(f"{key}.self_attention.in_proj_weight", f"{key}.self_attention.in_proj_bias",
                         f"{key}.self_attention.out_proj", f"{path}/attention",
                         query_shape(variables, f"{path}/attention"))
        out += dense(f"{key}.mlp.0", f"{path}/mlp/fc1") + dense(f"{key}.mlp.3", f"{path}/mlp/fc2")
    return out + layer_norm("encoder.ln", "norm") + dense("heads.head", "head")


CONVERTERS = {name: Converter(rules, f"torchvision.models.{source}")
              for name, source in (("vit_b16", "vit_b_16"), ("vit_b32", "vit_b_32"), ("vit_l16", "vit_l_16"))}

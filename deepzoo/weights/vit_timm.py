"""timm's ViT-S/16, B/16, B/32, L/16 (timm vit_small_patch16_224, vit_base_patch16_224, vit_base_patch32_224,
vit_large_patch16_224; DeiT's deit_small_patch16_224 has the same layout) -> deepzoo.models.vit.

    patch_embed.proj                                -> patch_embed
    cls_token, pos_embed                            -> cls_token, pos_embedding
    blocks.{i}.norm1, .norm2                        -> encoder_block{i+1}/norm1, norm2
             .attn.qkv, .attn.proj                  -> encoder_block{i+1}/attention/query, key, value; out
             .mlp.fc1, .mlp.fc2                     -> encoder_block{i+1}/mlp/fc1, fc2
    norm, head                                      -> norm, head

These models compute what deepzoo's ViT does (LayerNorm eps 1e-6, exact GELU, class-token pooling, the position
embeddings added to the class token too). timm's variants that do not (global average pooling with fc_norm,
pre_norm as in CLIP, layer scale, no class token) have other keys, which the converter names.
"""
from deepzoo.weights.rules import Converter, conv, dense, layer_norm, tensor
from deepzoo.weights.vit import attention, query_shape


def rules(model, variables) -> list:
    out = conv("patch_embed.proj", "patch_embed")
    out += [tensor("cls_token", ("params", "cls_token")), tensor("pos_embed", ("params", "pos_embedding"))]
    for i in range(model.depth):
        key, path = f"blocks.{i}", f"encoder_block{i + 1}"
        out += layer_norm(f"{key}.norm1", f"{path}/norm1") + layer_norm(f"{key}.norm2", f"{path}/norm2")
        out += attention(f"{key}.attn.qkv.weight", f"{key}.attn.qkv.bias", f"{key}.attn.proj", f"{path}/attention",
                         query_shape(variables, f"{path}/attention"))
        out += dense(f"{key}.mlp.fc1", f"{path}/mlp/fc1") + dense(f"{key}.mlp.fc2", f"{path}/mlp/fc2")
    return out + layer_norm("norm", "norm") + dense("head", "head")


CONVERTERS = {name: Converter(rules, f"timm.{source}")
              for name, source in (("vit_s16", "vit_small_patch16_224"), ("vit_b16", "vit_base_patch16_224"),
                                   ("vit_b32", "vit_base_patch32_224"), ("vit_l16", "vit_large_patch16_224"))}

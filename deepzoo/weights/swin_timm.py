"""timm's Swin-T/S/B (timm swin_tiny_patch4_window7_224, swin_small_..., swin_base_...) -> deepzoo.models.swin.

    patch_embed.proj, patch_embed.norm          -> patch_embed, patch_embed_norm
    layers.{s-1}.downsample.norm, .reduction    -> patch_merging{s}/norm, reduction      (s >= 2)
    layers.{s-1}.blocks.{b}.norm1, .norm2       -> stage{s}_block{b+1}/encoder/norm1, norm2
                           .attn.qkv, .attn.proj -> stage{s}_block{b+1}/encoder/attention/query, key, value; out
                           .attn.relative_position_bias_table -> stage{s}_block{b+1}/relative_position_bias_table
                           .mlp.fc1, .mlp.fc2   -> stage{s}_block{b+1}/encoder/mlp/fc1, fc2
    norm, head.fc                               -> norm, head

timm merges patches in torchvision's order and, like deepzoo, shrinks the window of a feature map smaller than
it; its relative_position_index and attention masks are not saved. (timm converts the original Microsoft
checkpoints, whose stage s ends with the downsampling that timm puts at the start of stage s + 1, when it loads
them: convert such a file with timm first.)
"""
from deepzoo.weights.rules import Converter, conv, dense, layer_norm
from deepzoo.weights.swin import block


def rules(model, variables) -> list:
    out = conv("patch_embed.proj", "patch_embed") + layer_norm("patch_embed.norm", "patch_embed_norm")
    for s, depth in enumerate(model.depths, start=1):
        if s > 1:
            out += layer_norm(f"layers.{s - 1}.downsample.norm", f"patch_merging{s}/norm")
            out += dense(f"layers.{s - 1}.downsample.reduction", f"patch_merging{s}/reduction", bias=False)
        for b in range(depth):
            out += block(f"layers.{s - 1}.blocks.{b}", f"stage{s}_block{b + 1}", variables, mlp=("mlp.fc1", "mlp.fc2"))
    return out + layer_norm("norm", "norm") + dense("head.fc", "head")


CONVERTERS = {name: Converter(rules, f"timm.swin_{size}_patch4_window7_224")
              for name, size in (("swin_t", "tiny"), ("swin_s", "small"), ("swin_b", "base"))}

"""timm's ConvNeXt-T/S/B (timm convnext_tiny, convnext_small, convnext_base) -> deepzoo.models.convnext.

    stem.0, stem.1                              -> stem, stem_norm
    stages.{s-1}.downsample.0, .1  (s >= 2)     -> downsample{s}_norm, downsample{s}
    stages.{s-1}.blocks.{b}.conv_dw             -> stage{s}_block{b+1}/dwconv     (depthwise 7x7)
                           .norm, .mlp.fc1, .mlp.fc2 -> .../norm, pwconv1, pwconv2
                           .gamma               -> .../layer_scale                (C,), as it is
    head.norm, head.fc                          -> norm, head

These models compute what deepzoo's ConvNeXt does: LayerNorms with eps 1e-6 (LayerNorm2d in the stem, the
downsampling and the head, whose norm comes after global average pooling), exact GELU, Linear layers in the block
(conv_mlp false), a layer scale in every block (ls_init_value 1e-6). timm's variants that do not have other keys
or shapes, which the converter names: head_norm_first (convnext_tiny_hnf: norm_pre before pooling), conv_mlp
(atto to nano: 1x1 convs), no layer scale and GRN (ConvNeXt-V2). (The original Facebook checkpoints, with
downsample_layers.* and stages.{i}.{j}.*, are renamed by timm when it loads them: convert such a file with timm
first.)
"""
from deepzoo.weights.rules import Converter, conv, dense, layer_norm, tensor


def rules(model, variables) -> list:
    out = conv("stem.0", "stem") + layer_norm("stem.1", "stem_norm")
    for s, depth in enumerate(model.depths, start=1):
        if s > 1:
            out += layer_norm(f"stages.{s - 1}.downsample.0", f"downsample{s}_norm")
            out += conv(f"stages.{s - 1}.downsample.1", f"downsample{s}")
        for b in range(depth):
            key, path = f"stages.{s - 1}.blocks.{b}", f"stage{s}_block{b + 1}"
            out += conv(f"{key}.conv_dw", f"{path}/dwconv") + layer_norm(f"{key}.norm", f"{path}/norm")
            out += dense(f"{key}.mlp.fc1", f"{path}/pwconv1") + dense(f"{key}.mlp.fc2", f"{path}/pwconv2")
            out.append(tensor(f"{key}.gamma", ("params", path, "layer_scale")))
    return out + layer_norm("head.norm", "norm") + dense("head.fc", "head")


CONVERTERS = {f"convnext_{v}": Converter(rules, f"timm.convnext_{size}")
              for v, size in (("t", "tiny"), ("s", "small"), ("b", "base"))}

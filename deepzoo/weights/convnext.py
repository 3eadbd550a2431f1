"""torchvision's ConvNeXt-T/S/B (torchvision.models.convnext_tiny, _small, _base) -> deepzoo.models.convnext.

    features.0.0, .0.1                      -> stem, stem_norm
    features.{2s-1}.{b}.block.0             -> stage{s}_block{b+1}/dwconv     (depthwise 7x7)
                       .block.2, .3, .5     -> .../norm, pwconv1, pwconv2     (.1, .4, .6: permute, GELU, permute)
                       .layer_scale         -> .../layer_scale                (C, 1, 1) -> (C,)
    features.{2s-2}.0, .1        (s >= 2)   -> downsample{s}_norm, downsample{s}
    classifier.0, .2                        -> norm, head                     (.1: flatten)

torchvision's LayerNorm2d (stem, downsampling, classifier) has LayerNorm's weight and bias: layer_norm fits it.
"""
from deepzoo.weights.rules import Converter, Rule, conv, dense, layer_norm, tensor


def layer_scale(key: str, path: str) -> Rule:
    """A CNBlock's layer_scale, shaped (C, 1, 1) to broadcast over NCHW -> the block's (C,) layer_scale."""
    return tensor(key, ("params", path, "layer_scale"), lambda g: g.reshape(-1), lambda g: g.reshape(-1, 1, 1))


def rules(model, variables) -> list:
    out = conv("features.0.0", "stem") + layer_norm("features.0.1", "stem_norm")
    for s, depth in enumerate(model.depths, start=1):
        if s > 1:
            out += layer_norm(f"features.{2 * s - 2}.0", f"downsample{s}_norm")
            out += conv(f"features.{2 * s - 2}.1", f"downsample{s}")
        for b in range(depth):
            key, path = f"features.{2 * s - 1}.{b}", f"stage{s}_block{b + 1}"
            out += conv(f"{key}.block.0", f"{path}/dwconv") + layer_norm(f"{key}.block.2", f"{path}/norm")
            out += dense(f"{key}.block.3", f"{path}/pwconv1") + dense(f"{key}.block.5", f"{path}/pwconv2")
            out.append(layer_scale(f"{key}.layer_scale", path))
    return out + layer_norm("classifier.0", "norm") + dense("classifier.2", "head")


CONVERTERS = {f"convnext_{v}": Converter(rules, f"torchvision.models.convnext_{size}")
              for v, size in (("t", "tiny"), ("s", "small"), ("b", "base"))}

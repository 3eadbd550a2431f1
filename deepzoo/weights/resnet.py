"""torchvision's ResNet-18/34/50/101/152 (torchvision.models.resnet) -> deepzoo.models.resnet.

    conv1, bn1                              -> conv1, bn1
    layer{s}.{b}.conv{i}, bn{i}             -> stage{s}_block{b+1}/conv{i}, bn{i}
    layer{s}.{b}.downsample.0, .1           -> stage{s}_block{b+1}/downsample_conv, downsample_bn
    fc                                      -> fc
"""
from deepzoo.weights.rules import Converter, batch_norm, conv, dense


def rules(model, variables) -> list:
    out = conv("conv1", "conv1", bias=False) + batch_norm("bn1", "bn1")
    params = variables["params"]
    for s, blocks in enumerate(model.stage_sizes, start=1):
        for b in range(blocks):
            path = f"stage{s}_block{b + 1}"
            convs = sorted(k for k in params[path] if k.startswith("conv"))  # 2 (basic) or 3 (bottleneck)
            for c in convs:
                out += conv(f"layer{s}.{b}.{c}", f"{path}/{c}", bias=False)
                out += batch_norm(f"layer{s}.{b}.bn{c[4:]}", f"{path}/bn{c[4:]}")
            if "downsample_conv" in params[path]:
                out += conv(f"layer{s}.{b}.downsample.0", f"{path}/downsample_conv", bias=False)
                out += batch_norm(f"layer{s}.{b}.downsample.1", f"{path}/downsample_bn")
    return out + dense("fc", "fc")


CONVERTERS = {f"resnet{depth}": Converter(rules, f"torchvision.models.resnet{depth}")
              for depth in (18, 34, 50, 101, 152)}

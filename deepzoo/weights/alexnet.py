"""torchvision's AlexNet (torchvision.models.alexnet) -> deepzoo.models.alexnet.

    features.0, .3, .6, .8, .10             -> conv1 .. conv5    (the indices skip the ReLUs and max-pools)
    classifier.1, .4, .6                    -> fc6, fc7, fc8     (the indices skip the dropouts and ReLUs)

fc6 reads the pooled feature map flattened: torch flattens (C, H, W), Flax (H, W, C), so fc6's weight columns
are reordered (rules.flattened_dense).
"""
from deepzoo.models.alexnet import POOL_AFTER
from deepzoo.weights.rules import Converter, conv, dense, flattened_dense


def rules(model, variables) -> list:
    out, index = [], 0
    for i in range(len(model.convs)):
        out += conv(f"features.{index}", f"conv{i + 1}")
        index += 3 if f"conv{i + 1}" in POOL_AFTER else 2  # conv, ReLU[, max-pool]
    channels = variables["params"][f"conv{len(model.convs)}"]["kernel"].shape[-1]
    return (out + flattened_dense("classifier.1", "fc6", channels, model.pool_to)
            + dense("classifier.4", "fc7") + dense("classifier.6", "fc8"))


CONVERTERS = {"alexnet": Converter(rules, "torchvision.models.alexnet")}

"""torchvision's VGG-11/13/16/19 and their _bn variants (torchvision.models.vgg) -> deepzoo.models.vgg.

    features.{k}                            -> conv{b}_{i}       the i-th convolution of block b (before pool b)
    features.{k+1}             (_bn only)   -> conv{b}_{i}_bn
    classifier.0, .3, .6                    -> fc6, fc7, fc8

k counts torchvision's `features` modules: conv [-> BatchNorm] -> ReLU for each convolution, one per max-pool.
fc6 reads the 7x7 map flattened: torch flattens (C, H, W), Flax (H, W, C), so fc6's weight columns are reordered.
"""
from deepzoo.weights.rules import Converter, batch_norm, conv, dense, flattened_dense


def rules(model, variables) -> list:
    out, index, block, i = [], 0, 1, 1
    for layer in model.config:  # the walk of VGG.__call__, counting torchvision's modules alongside
        if layer == "maxpool":
            index, block, i = index + 1, block + 1, 1
        elif layer.startswith("conv"):
            name = f"conv{block}_{i}"
            out += conv(f"features.{index}", name)
            if model.batch_norm:
                out += batch_norm(f"features.{index + 1}", f"{name}_bn")
            index, i, last = index + (3 if model.batch_norm else 2), i + 1, name
        else:
            raise ValueError(f"torchvision's VGG has no {layer!r} layer")
    channels = variables["params"][last]["kernel"].shape[-1]
    return (out + flattened_dense("classifier.0", "fc6", channels, model.pool_to)
            + dense("classifier.3", "fc7") + dense("classifier.6", "fc8"))


CONVERTERS = {f"vgg{depth}{bn}": Converter(rules, f"torchvision.models.vgg{depth}{bn}")
              for depth in (11, 13, 16, 19) for bn in ("", "_bn")}

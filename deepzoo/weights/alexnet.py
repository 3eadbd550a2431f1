"""torchvision's AlexNet (torchvision.models.alexnet) -> deepzoo.models.alexnet.

    features.0, .3, .6, .8, .10             -> conv1 .. conv5    (the indices skip the ReLUs and max-pools)
    classifier.1, .4, .6                    -> fc6, fc7, fc8     (the indices skip the dropouts and ReLUs)

fc6 reads the pooled feature map flattened: torch flattens (C, H, W), Flax (H, W, C), so fc6's weight columns
are reordered (flattened_dense, also used by vgg.py).
"""
from deepzoo.models.alexnet import POOL_AFTER
from deepzoo.weights.rules import Converter, Rule, conv, dense, tensor


def flattened_dense(prefix: str, path: str, channels: int, size: tuple[int, int]) -> list[Rule]:
    """torch Linear `prefix` on a (C, H, W) map flattened channel-major -> nn.Dense at `path` on the same map
    (H, W, C = `size`, `channels`) flattened channel-last: weight (O, C*H*W) -> kernel (H*W*C, O)."""
    h, w = size
    n = channels * h * w

    def to_flax(weight):
        if weight.shape[1:] != (n,):  # another width: left as it is, so that the shape check names it
            return weight.T
        return weight.reshape(-1, channels, h, w).transpose(2, 3, 1, 0).reshape(n, -1)

    def to_torch(kernel):  # views only: layout() runs it on full-size zero-stride stand-ins
        return kernel.reshape(h, w, channels, -1).transpose(3, 2, 0, 1).reshape(-1, n)
    return [tensor(f"{prefix}.weight", ("params", path, "kernel"), to_flax, to_torch),
            tensor(f"{prefix}.bias", ("params", path, "bias"))]


def rules(model, variables) -> list:
    out, index = [], 0
    for i in range(len(model.convs)):
        out += conv(f"features.{index}", f"conv{i + 1}")
        index += 3 if f"conv{i + 1}" in POOL_AFTER else 2  # conv, ReLU[, max-pool]
    channels = variables["params"][f"conv{len(model.convs)}"]["kernel"].shape[-1]
    return (out + flattened_dense("classifier.1", "fc6", channels, model.pool_to)
            + dense("classifier.4", "fc7") + dense("classifier.6", "fc8"))


CONVERTERS = {"alexnet": Converter(rules, "torchvision.models.alexnet")}

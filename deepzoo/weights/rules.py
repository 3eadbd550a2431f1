"""How one PyTorch state-dict entry becomes Flax variables and back, and the converter that applies a list of them.

A `Rule` reads some state-dict keys (`sources`) and fills some variables (`targets`, paths that start with the
collection: ("params", "conv1", "kernel")); `to_flax` and `to_torch` are each other's inverse, so that the same
list imports and exports. The builders below are the layouts every family shares:

    conv        weight (O, I, kh, kw) -> kernel (kh, kw, I, O)      and bias
    dense       weight (O, I)         -> kernel (I, O)              and bias
    flattened_dense  the same, on a (C, H, W) map flattened by torch and an (H, W, C) one by Flax: rows reordered
    layer_norm  weight, bias          -> scale, bias
    batch_norm  weight, bias          -> params scale, bias; running_mean, running_var -> batch_stats mean, var;
                num_batches_tracked   -> nothing (written back as 0, so that torch's strict loading accepts the file)
    embedding   weight (N, D)         -> embedding (N, D)

`to_flax` checks every key, every shape and every variable: nothing is silently left at its initial value. The one
exception is declared: a converter's `absent` layers, the part of the model that its source's files do not hold (a
BertForMaskedLM file has no pooler). Those variables need no key and are left out of what to_flax returns, and
to_torch writes nothing for them; deepzoo.weights.to_flax fills them from a fresh model.init and logs a warning.
"""
import dataclasses
import fnmatch
from typing import Callable, Sequence

import numpy as np

Path = tuple[str, ...]


class WeightsError(ValueError):
    """A checkpoint that does not fit the model: the message lists each key or variable at fault."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """Some state-dict keys to some variables, by a function and its inverse (import and export alike)."""
    sources: tuple[str, ...]                 # state-dict keys
    targets: tuple[Path, ...]                # variable paths, collection first
    to_flax: Callable[..., Sequence]         # source arrays -> target arrays
    to_torch: Callable[..., Sequence]        # target arrays -> source arrays


def _path(prefix: str, leaf: str, collection: str = "params") -> Path:
    return (collection, *prefix.split("/"), leaf) if prefix else (collection, leaf)


def tensor(source: str, target: Path, to_flax=lambda a: a, to_torch=lambda a: a) -> Rule:
    """One key to one variable through a function and its inverse (default: as it is)."""
    return Rule((source,), (target,), lambda a: (to_flax(a),), lambda a: (to_torch(a),))


def _bias(prefix: str, path: str, bias: bool) -> list[Rule]:
    return [tensor(f"{prefix}.bias", _path(path, "bias"))] if bias else []


def conv(prefix: str, path: str, bias: bool = True) -> list[Rule]:
    """torch Conv{1,2}d `prefix` -> nn.Conv at `path` (depthwise and grouped convs too: (O, I/g, ...))."""
    def to_flax(w):  # (O, I, *spatial) -> (*spatial, I, O)
        return np.transpose(w, (*range(2, w.ndim), 1, 0))

    def to_torch(k):
        return np.transpose(k, (k.ndim - 1, k.ndim - 2, *range(k.ndim - 2)))
    return [tensor(f"{prefix}.weight", _path(path, "kernel"), to_flax, to_torch)] + _bias(prefix, path, bias)


def dense(prefix: str, path: str, bias: bool = True) -> list[Rule]:
    """torch Linear `prefix` (weight (out, in)) -> nn.Dense at `path` (kernel (in, out))."""
    return [tensor(f"{prefix}.weight", _path(path, "kernel"), np.transpose, np.transpose)] + _bias(prefix, path, bias)


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


def layer_norm(prefix: str, path: str) -> list[Rule]:
    """torch LayerNorm `prefix` -> nn.LayerNorm at `path`."""
    return [tensor(f"{prefix}.weight", _path(path, "scale")), tensor(f"{prefix}.bias", _path(path, "bias"))]


def batch_norm(prefix: str, path: str) -> list[Rule]:
    """torch BatchNorm2d `prefix` -> nn.BatchNorm at `path`: affine parameters and running statistics."""
    counter = Rule((f"{prefix}.num_batches_tracked",), (), lambda n: (), lambda: (np.array(0, np.int64),))
    return [tensor(f"{prefix}.weight", _path(path, "scale")), tensor(f"{prefix}.bias", _path(path, "bias")),
            tensor(f"{prefix}.running_mean", _path(path, "mean", "batch_stats")),
            tensor(f"{prefix}.running_var", _path(path, "var", "batch_stats")), counter]


def embedding(prefix: str, path: str) -> list[Rule]:
    """torch Embedding `prefix` -> nn.Embed at `path`."""
    return [tensor(f"{prefix}.weight", _path(path, "embedding"))]


def _name(path: Path) -> str:
    return "/".join(path)


def flatten(tree, prefix=()) -> dict[Path, object]:
    """{path: leaf} of a nested dict."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    return {p: v for k, sub in tree.items() for p, v in flatten(sub, (*prefix, k)).items()}


def unflatten(flat: dict[Path, object]) -> dict:
    """The nested dict of {path: leaf}: the inverse of flatten."""
    tree = {}
    for path, value in flat.items():
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return tree


def _raise(problems: list[str], what: str):
    if problems:
        shown = "\n  ".join(problems[:25])
        more = f"\n  ... and {len(problems) - 25} more" if len(problems) > 25 else ""
        raise WeightsError(f"{what}: {len(problems)} problem(s):\n  {shown}{more}")


def in_layers(path: Path, layers) -> bool:
    """Whether variable `path` (collection first) lies in one of `layers`: patterns of layer paths without the
    collection ("stage*", "bert/pooler", "bert/layer*")."""
    prefixes = ["/".join(path[1:i]) for i in range(2, len(path) + 1)]
    return any(fnmatch.fnmatchcase(prefix, p) for prefix in prefixes for p in layers)


def to_flax(rules: list[Rule], state_dict: dict, abstract: dict, ignore: Sequence[str] = (), what="checkpoint",
            layers=None, absent: Sequence[str] = ()):
    """The variables that `rules` make of `state_dict` (name -> array), shaped and typed as `abstract`
    (the model's variables, e.g. from jax.eval_shape); keys matching an `ignore` pattern are dropped.
    With `layers` (see in_layers), only those layers' variables: the keys of the others are read and dropped
    (a new classifier head, for instance, need not fit the checkpoint's). The variables in `absent` layers (see
    in_layers) may have no rule: those without one are left out of the result, for the caller to fill.
    Raises WeightsError listing every missing or unexpected key, wrong shape and unfilled variable."""
    expected = flatten(abstract)
    if layers is not None:
        expected = {p: a for p, a in expected.items() if in_layers(p, layers)}
        skipped = [r for r in rules if r.targets and not any(in_layers(t, layers) for t in r.targets)]
        rules = [r for r in rules if r not in skipped]
        ignore = (*ignore, *(k for r in skipped for k in r.sources))
    problems, filled, used = [], {}, set()
    for rule in rules:
        lacking = [k for k in rule.sources if k not in state_dict]
        if lacking:
            fills = f"it fills {_name(rule.targets[0])}" if rule.targets else "a buffer"
            problems.append(f"missing key {lacking[0]!r} ({fills})")
            continue
        used.update(rule.sources)
        arrays = rule.to_flax(*(np.asarray(state_dict[k]) for k in rule.sources))
        for target, array in zip(rule.targets, arrays, strict=True):
            source = ", ".join(rule.sources)
            if target not in expected:
                problems.append(f"{source} goes to {_name(target)}, which the model does not have")
            elif array.shape != expected[target].shape:
                problems.append(f"{source} {tuple(np.shape(state_dict[rule.sources[0]]))} gives {_name(target)} "
                                f"{array.shape}, but the model's is {tuple(expected[target].shape)}")
            else:
                filled[target] = np.asarray(array).astype(expected[target].dtype)
    problems += [f"unexpected key {k!r}: no variable of the model takes it" for k in state_dict
                 if k not in used and not any(fnmatch.fnmatchcase(k, p) for p in ignore)]
    targeted = {t for r in rules for t in r.targets}  # the others are reported as a missing key above
    problems += [f"{_name(p)} is not filled by any key (the converter misses it)" for p in expected
                 if p not in targeted and not in_layers(p, absent)]
    _raise(problems, f"{what} does not fit the model")
    return unflatten(filled)


def to_torch(rules: list[Rule], variables: dict, absent: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """The state dict (name -> NumPy array) that `rules` make of `variables`: the inverse of to_flax.
    Raises WeightsError if a variable has no rule (it would be lost), unless it lies in `absent` layers: the part
    that the source's files do not hold, which is not written."""
    flat = {p: np.asarray(v) for p, v in flatten(variables).items()}
    targeted = {t for r in rules for t in r.targets}
    problems = [f"{_name(p)} has no rule: export would lose it" for p in flat
                if p not in targeted and not in_layers(p, absent)]
    problems += [f"{_name(t)} is not a variable of the model" for r in rules for t in r.targets if t not in flat]
    _raise(problems, "the variables do not fit the converter")
    state_dict = {}
    for rule in rules:
        for key, array in zip(rule.sources, rule.to_torch(*(flat[t] for t in rule.targets)), strict=True):
            state_dict[key] = np.ascontiguousarray(array)
    return state_dict


@dataclasses.dataclass(frozen=True)
class Converter:
    """How the checkpoints of one source architecture map onto a registered model. `absent` names the layers (patterns
    as in in_layers: ("bert/pooler",), ("transform*", "output_bias")) that the source's files do not hold, where the
    source is the model less a part: `rules` fill none of their variables; import starts them from a fresh
    model.init (seed 0) and logs a warning naming each one, and export leaves them out of the file."""
    rules: Callable[[object, dict], list[Rule]]   # (the model, its abstract variables) -> the rules
    source: str                                   # the layout's origin, e.g. "torchvision.models.resnet50"
    ignore: tuple[str, ...] = ()                  # keys read and dropped (patterns): buffers, tied copies
    absent: tuple[str, ...] = ()                  # layers of the model that the source's files lack (patterns)

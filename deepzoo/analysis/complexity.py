"""Parameters and multiply-accumulates (MACs), read from the program rather than from formulas.

`count_macs` traces a function to its jaxpr and adds up the two primitives that do the arithmetic of a
network: `dot_general` (dense layers, attention, einsum) and `conv_general_dilated` (convolutions,
grouped and depthwise included). Elementwise work (activations, norms, pooling, biases) is not counted,
as in the papers' tables. Because it reads what XLA is asked to compute, it is exact for any model,
including the ones nobody wrote a formula for. Tracing needs shapes only: abstract inputs
(`jax.eval_shape`) cost no memory.

    macs = count_macs(lambda v, x: model.apply(v, x), variables, x)
    print(profile(model, (224, 224, 3), name="resnet50"))
"""
import collections
import dataclasses
import math

import jax
import jax.numpy as jnp
from jax.extend import core as jax_core


def count_params(tree) -> int:
    """Number of scalars in a pytree of arrays (or ShapeDtypeStructs)."""
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))


def _eqn_macs(eqn) -> int:
    if eqn.primitive.name not in ("dot_general", "conv_general_dilated"):
        return 0
    out_size = math.prod(eqn.outvars[0].aval.shape)
    if eqn.primitive.name == "dot_general":
        (lhs_contracting, _), _ = eqn.params["dimension_numbers"]
        lhs_shape = eqn.invars[0].aval.shape
        return out_size * math.prod(lhs_shape[d] for d in lhs_contracting)
    if eqn.primitive.name == "conv_general_dilated":
        # Each output element sums over the kernel window and its group's input channels; the kernel's
        # input-feature axis already holds in_channels / feature_group_count.
        rhs_spec = eqn.params["dimension_numbers"].rhs_spec
        rhs_shape = eqn.invars[1].aval.shape
        return out_size * math.prod(rhs_shape[d] for d in rhs_spec[1:])
    return 0


def _walk(jaxpr, prefix: str, multiplier: int, totals: collections.Counter):
    for eqn in jaxpr.eqns:
        scope = "/".join(s for s in (prefix, str(eqn.source_info.name_stack)) if s)
        macs = _eqn_macs(eqn)
        if macs:
            totals[scope] += multiplier * macs
        inner = list(jax_core.jaxprs_in_params(eqn.params))
        if not inner:
            continue
        if eqn.primitive.name == "cond":  # one branch runs: count the most expensive
            costs = []
            for branch in inner:
                branch_totals = collections.Counter()
                _walk(branch, scope, multiplier, branch_totals)
                costs.append(branch_totals)
            totals.update(max(costs, key=lambda c: sum(c.values())))
            continue
        # A scan body runs `length` times; a while loop's trip count is unknown, so it counts once.
        times = eqn.params.get("length", 1) if eqn.primitive.name == "scan" else 1
        for sub in inner:
            _walk(sub, scope, multiplier * times, totals)


def macs_by_scope(fn, *args, **kwargs) -> collections.Counter:
    """MACs of `fn(*args)` keyed by the name scope (for Flax modules, the layer path) that issued them."""
    totals = collections.Counter()
    _walk(jax.make_jaxpr(fn)(*args, **kwargs).jaxpr, "", 1, totals)
    return totals


def count_macs(fn, *args, **kwargs) -> int:
    """Multiply-accumulates of one call `fn(*args)` (for all examples in the batch it is given)."""
    return sum(macs_by_scope(fn, *args, **kwargs).values())


def _human(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3f}{unit}"
    return str(n)


@dataclasses.dataclass(frozen=True)
class Summary:
    """What `profile` measures of one model (MACs per example); str() prints it as a table by
    top-level layer."""
    name: str
    input_shape: tuple
    output_shape: tuple
    output_dtype: str
    params: int               # trainable parameters (the `params` collection)
    state: int                # other variables, e.g. BatchNorm running statistics
    macs: int                 # per example, eval mode
    layers: tuple             # (layer, params, macs) per top-level layer

    def __str__(self):
        rows = [f"{self.name}: input {self.input_shape} -> output {self.output_shape} {self.output_dtype}",
                f"{'layer':<28}{'params':>14}{'MACs':>18}"]
        rows += [f"{layer:<28}{params:>14,}{macs:>18,}" for layer, params, macs in self.layers]
        rows.append(f"{'total':<28}{self.params:>14,}{self.macs:>18,}")
        rows.append(f"{_human(self.params)} parameters, {_human(self.macs)} MACs per example"
                    + (f", {self.state:,} non-trainable state values" if self.state else ""))
        return "\n".join(rows)


def example_inputs(spec, batch_size: int = 1, dtype=jnp.float32) -> tuple:
    """A model's abstract inputs with a batch axis: `spec` is one input's shape (a float input, e.g.
    (224, 224, 3)) or a tuple of ShapeDtypeStructs, one per positional input (e.g. token ids)."""
    if all(isinstance(d, int) for d in spec):
        return (jax.ShapeDtypeStruct((batch_size, *spec), dtype),)
    return tuple(jax.ShapeDtypeStruct((batch_size, *s.shape), s.dtype) for s in spec)


def profile(model, input_spec, *, name: str | None = None, dtype=jnp.float32) -> Summary:
    """Parameters, per-example MACs (eval mode) and output shape of a Linen `model`, without allocating.
    `input_spec`: see example_inputs."""
    xs = example_inputs(input_spec, 1, dtype)
    variables = jax.eval_shape(lambda xs: model.init(jax.random.key(0), *xs, train=False), xs)

    def apply(variables, xs):
        return model.apply(variables, *xs, train=False)

    out = jax.eval_shape(apply, variables, xs)
    scopes = macs_by_scope(apply, variables, xs)
    root = type(model).__name__
    layer_macs = collections.Counter()
    for scope, macs in scopes.items():
        parts = scope.split("/")
        layer_macs[parts[1] if len(parts) > 1 and parts[0] == root else scope] += macs
    params = variables["params"]
    layers = tuple((layer, count_params(params.get(layer, {})), layer_macs.get(layer, 0))
                   for layer in dict.fromkeys([*params, *layer_macs]))
    shapes = [x.shape[1:] if x.dtype == dtype else (x.shape[1:], str(x.dtype)) for x in xs]
    # a model with several outputs (a dict, e.g. the capsule network's lengths and reconstruction): each one's shape
    output_shape = jax.tree.map(lambda o: tuple(o.shape[1:]), out, is_leaf=lambda o: hasattr(o, "shape"))
    output_dtype = ", ".join(sorted({str(o.dtype) for o in jax.tree.leaves(out)}))
    return Summary(name=name or root, input_shape=shapes[0] if len(xs) == 1 else tuple(shapes), output_shape=output_shape,
                   output_dtype=output_dtype, params=count_params(params),
                   state=count_params({k: v for k, v in variables.items() if k != "params"}),
                   macs=sum(scopes.values()), layers=layers)

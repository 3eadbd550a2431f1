"""Zero-padding a narrow network into a wide one, so that trials of different widths share one program.

Each trial is initialised as its own narrow network, then zero-padded to the group's widest one. The
padding units get no input (zero weights in) and give no output (zero weights out), so they stay zero
and the trial computes exactly what the narrow network does, initialisation scale included. That holds
for MLPs and CNNs with ReLU and BatchNorm; `check_same_outputs` verifies it at the start and
`check_padding_kept` at the end. LayerNorm, whose statistics see the padding, cannot be padded.
"""
import jax
import jax.numpy as jnp
import numpy as np


def pad_to(tree, shapes):
    """Zero-pads every leaf of `tree` to the shape of the matching leaf of `shapes` (its leading corner)."""
    def pad(x, s):
        if x.shape == s.shape:
            return x
        if x.ndim != len(s.shape) or any(a > b for a, b in zip(x.shape, s.shape)):
            raise ValueError(f"cannot pad a leaf of shape {x.shape} to {s.shape}: widths of this model do "
                             f"not nest; leave the field out of config.sweep.padded.")
        return jnp.zeros(s.shape, x.dtype).at[tuple(slice(0, n) for n in x.shape)].set(x)
    return jax.tree.map(pad, tree, shapes)


def unpad(tree, shapes):
    """The leading corner of every leaf: the narrow network inside a padded one."""
    return jax.tree.map(lambda x, s: x[tuple(slice(0, n) for n in s.shape)], tree, shapes)


def count_params(shapes) -> int:
    """The number of values in the leaves of `shapes` (arrays or ShapeDtypeStructs)."""
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)))


def check_same_outputs(narrow, wide, narrow_variables, wide_variables, inputs, what: str):
    """Raises unless the padded wide network computes what the narrow one does on `inputs`."""
    out_narrow = jax.jit(narrow.apply)(narrow_variables, *inputs)
    out_wide = jax.jit(wide.apply)(wide_variables, *inputs)
    error = float(jnp.max(jnp.abs(out_narrow - out_wide)))
    if not error <= 1e-4 * (1.0 + float(jnp.max(jnp.abs(out_narrow)))):
        raise ValueError(f"{what} padded to the group's widest does not compute the narrow network (outputs "
                         f"differ by {error:.3g}); normalisation over the padded axis breaks padding. Leave the "
                         f"field out of config.sweep.padded.")


def leaks(params, narrow_shapes) -> bool:
    """Whether a padded unit of `params` learned something (then it was not the narrow network)."""
    def leak(x, narrow):
        padding = np.array(x)
        padding[tuple(slice(0, n) for n in narrow.shape)] = 0
        return bool(np.any(padding))
    return any(jax.tree.leaves(jax.tree.map(leak, params, narrow_shapes)))

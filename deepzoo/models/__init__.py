"""The model registry: the only place that maps a name to a module.

    model = deepzoo.models.get("mlp", depth=2, width=100, num_outputs=10)
"""
import jax.numpy as jnp

from deepzoo.models import mlp
from deepzoo.registry import lookup

_MODELS = {
    "mlp": mlp.MLP,
    "shallow_mlp": mlp.ShallowMLP,
}


def names() -> list[str]:
    return sorted(_MODELS)


def get(name: str, **kwargs):
    """Returns the Linen module registered as `name`, built with `kwargs` (dtype names allowed)."""
    ctor = lookup("model", name, _MODELS)
    for key in ("dtype", "param_dtype"):
        if isinstance(kwargs.get(key), str):
            try:
                kwargs[key] = jnp.dtype(kwargs[key])
            except TypeError:
                raise TypeError(f"model {name!r}: {key}={kwargs[key]!r} is not a dtype; use float32, "
                                f"bfloat16 or float16.") from None
    try:
        return ctor(**kwargs)
    except TypeError as e:  # an unknown field: say which ones the model has
        cls = getattr(ctor, "func", ctor)  # unwrap functools.partial variants
        fields = [f for f in cls.__dataclass_fields__ if f not in ("parent", "name")]
        raise TypeError(f"model {name!r}: {e}. Its fields: {', '.join(fields)}.") from None

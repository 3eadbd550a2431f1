"""The model registry: the only place that maps a name to a module.

    model = deepzoo.models.get("resnet50", num_classes=10)
    deepzoo.models.summary("resnet50")      # parameters, multiply-accumulates, output shape

`summary` looks the name up here and counts with deepzoo/analysis/complexity.py, which knows no model:
the import goes one way, models -> analysis.

Each family file defines `MODELS = {name: (constructor, inputs)}`: the constructor is the module class
or a `functools.partial` of it; inputs, without the batch axis, are what the paper feeds it, for
summaries and tests: one float input's shape, e.g. (224, 224, 3), or a tuple of ShapeDtypeStructs, one
per positional input (token ids for the sequence models).
"""
import jax.numpy as jnp

from deepzoo.analysis import complexity
from deepzoo.models import (alexnet, autoencoder, bert, captioning, char_rnn, cnn5, convnext, dcgan, dqn, flow, googlenet,
                            gpt, highway, inception_v3, lenet, mlp, nin, resnet, senet, seq2seq, simclr,
                            swin, transformer, unet, vae, vgg, vit)
from deepzoo.models import perceptron, rbf, som  # the zoo chart: perceptron, Kohonen map, RBF network
from deepzoo.models import boltzmann  # the zoo chart: Boltzmann machine, RBM, deep belief net
from deepzoo.models import hopfield, ngram  # the zoo chart: Hopfield networks, character n-grams
from deepzoo.models import capsnet, dcign, dnc, elm, esn, lsm, ntm  # the zoo chart, part 2: ELM ... capsules, DC-IGN
from deepzoo.models import nas, srgan  # architecture search, super-resolution
from deepzoo.models import sequence_rnn  # their recurrent baselines
from deepzoo.registry import lookup

_FAMILIES = (mlp, cnn5, lenet, alexnet, vgg, nin, googlenet, inception_v3, resnet, senet, highway, convnext, vit, swin,
             char_rnn, seq2seq, captioning, transformer, gpt, bert, autoencoder, vae, dcgan, flow, unet, simclr, dqn)
_FAMILIES += (perceptron, som, rbf)
_FAMILIES += (boltzmann,)
_FAMILIES += (hopfield, ngram)
_FAMILIES += (elm, esn, lsm, ntm, dnc, capsnet, dcign, sequence_rnn)
_FAMILIES += (nas, srgan)


def _collect(families):
    table = {}
    for family in families:
        for name, entry in family.MODELS.items():
            if name in table:
                raise ValueError(f"model name {name!r} is registered twice (in {family.__name__}).")
            table[name] = entry
    return table


_MODELS = _collect(_FAMILIES)


def names() -> list[str]:
    """The registered model names, sorted: what `get` and `summary` accept."""
    return sorted(_MODELS)


def input_shape_of(name: str) -> tuple:
    """The example input (without the batch axis) that `name` is defined on, e.g. (224, 224, 3), or a
    tuple of ShapeDtypeStructs for a model with several or integer inputs."""
    return tuple(lookup("model", name, _MODELS)[1])


def example_inputs(name: str, batch_size: int = 1) -> tuple:
    """Abstract inputs (ShapeDtypeStructs) of `name` with a batch axis: model.init(key, *inputs)."""
    return complexity.example_inputs(input_shape_of(name), batch_size)


def get(name: str, **kwargs):
    """Returns the Linen module registered as `name`, built with `kwargs` (dtype names allowed)."""
    ctor, _ = lookup("model", name, _MODELS)
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


def summary(name: str, input_shape=None, *, quiet: bool = False, **kwargs) -> complexity.Summary:
    """Prints (unless quiet) and returns the parameters, per-example MACs and output shape of `name`,
    on its paper's input unless `input_shape` is given; nothing is allocated."""
    result = complexity.profile(get(name, **kwargs), input_shape or input_shape_of(name), name=name)
    if not quiet:
        print(result)
    return result

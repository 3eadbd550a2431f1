"""Pretrained weights: PyTorch (torchvision) and Hugging Face checkpoints into the zoo's models, and back.

    model, variables = deepzoo.weights.load("resnet50", "resnet50.safetensors")   # or .pth, or an HF folder
    logits = model.apply(variables, images)           # images as the source expects them (e.g. ImageNet-normalised)
    deepzoo.weights.save("resnet50", variables, "finetuned.safetensors")          # the source's layout again

Every key of the file fills one variable of the model and every variable is filled, or `WeightsError` lists the
keys and variables at fault. `names()` lists the models with a converter; `layout(name)` gives the state-dict keys
and shapes that a model's converter reads, without allocating the model.
"""
import jax
import numpy as np

from deepzoo import models
from deepzoo.analysis import complexity
from deepzoo.registry import lookup
from deepzoo.weights import files, resnet
from deepzoo.weights import rules as _rules
from deepzoo.weights.rules import Converter, WeightsError

__all__ = ["Converter", "WeightsError", "layout", "load", "names", "save", "to_flax", "to_torch"]

_CONVERTERS = {name: converter for family in (resnet,) for name, converter in family.CONVERTERS.items()}


def names() -> list[str]:
    """The registered models that checkpoints can be imported into, sorted."""
    return sorted(_CONVERTERS)


def _model(name: str, input_shape, model_kwargs):
    """The converter, the model and its abstract variables (shapes only) on `input_shape` (default: its paper's)."""
    converter = lookup("converter for model", name, _CONVERTERS)
    model = models.get(name, **model_kwargs)
    inputs = complexity.example_inputs(input_shape or models.input_shape_of(name), 1)
    abstract = jax.eval_shape(model.init, jax.random.key(0), *inputs)
    abstract = {c: v for c, v in abstract.items() if c != "intermediates"}  # sown values are not weights
    return converter, model, abstract, converter.rules(model, abstract)


def to_flax(name: str, state_dict: dict, *, input_shape=None, **model_kwargs):
    """(model, variables): the registered model `name` (built with `model_kwargs`) and `state_dict` (PyTorch names
    -> arrays) as its variables. `input_shape` (without batch) matters only where parameter shapes follow it."""
    converter, model, abstract, rules = _model(name, input_shape, model_kwargs)
    variables = _rules.to_flax(rules, state_dict, abstract, converter.ignore,
                               what=f"this {converter.source} state dict, for deepzoo's {name}")
    return model, variables


def to_torch(name: str, variables, *, input_shape=None, **model_kwargs) -> dict[str, np.ndarray]:
    """The state dict, in the source's names and layouts, of `variables` of the registered model `name`."""
    _, _, _, rules = _model(name, input_shape, model_kwargs)
    return _rules.to_torch(rules, jax.device_get(variables))


def load(name: str, path, *, input_shape=None, **model_kwargs):
    """(model, variables) of the registered model `name` from the checkpoint at `path`: a .safetensors file, a
    PyTorch .pth/.pt/.bin file (needs torch) or a Hugging Face model folder."""
    return to_flax(name, files.read(path), input_shape=input_shape, **model_kwargs)


def save(name: str, variables, path, *, overwrite: bool = False, input_shape=None, **model_kwargs):
    """Writes `variables` of `name` to `path` (.safetensors) in the source's layout, for torch or Hugging Face
    (load it there with safetensors.torch.load_file). An existing file is kept unless `overwrite`."""
    return files.write(to_torch(name, variables, input_shape=input_shape, **model_kwargs), path, overwrite=overwrite)


def layout(name: str, *, input_shape=None, **model_kwargs) -> dict[str, tuple]:
    """{state-dict key: shape} that the converter of `name` reads and writes, from shapes alone (no weights are
    allocated, so full-size models are cheap): to compare with the source's published state dict."""
    _, _, abstract, rules = _model(name, input_shape, model_kwargs)
    flat = _rules.flatten(abstract)
    shapes = {}
    for rule in rules:  # zero-stride stand-ins: the layout functions run on them without allocating the weights
        stand_ins = (np.broadcast_to(np.zeros((), flat[t].dtype), flat[t].shape) for t in rule.targets)
        shapes.update({k: tuple(np.shape(a)) for k, a in zip(rule.sources, rule.to_torch(*stand_ins))})
    return shapes

"""Pretrained weights: PyTorch (torchvision) and Hugging Face checkpoints into the zoo's models, and back.

    model, variables = deepzoo.weights.load("resnet50", "resnet50.safetensors")   # or .pth, or an HF folder
    logits = model.apply(variables, images)           # images as the source expects them (e.g. ImageNet-normalised)
    deepzoo.weights.save("resnet50", variables, "finetuned.safetensors")          # the source's layout again

Every key of the file fills one variable of the model and every variable is filled, or `WeightsError` lists the
keys and variables at fault. The one exception is declared by the converter (its `absent` layers): a source whose
files lack part of the model by design, such as a BertForMaskedLM file (no pooler) or a BertModel file (no masked-LM
head). `load` starts those variables from a fresh `model.init` (seed 0) and logs a warning naming each of them (with
`layers` that leave them out, nothing is filled); `save` in that source's layout does not write them.

`names()` lists the models with a converter; `layout(name)` gives the state-dict keys and shapes that a model's
converter reads, without allocating the model.
"""
import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from deepzoo import models
from deepzoo.analysis import complexity
from deepzoo.registry import lookup
from deepzoo.weights import alexnet, bert, convnext, convnext_timm, gpt2, resnet, swin, swin_timm, vgg, vit, vit_timm
from deepzoo.weights import bert_google, bert_masked_lm, bert_model, gpt2_model
from deepzoo.weights import files
from deepzoo.weights import rules as _rules
from deepzoo.weights.rules import Converter, WeightsError

__all__ = ["Converter", "WeightsError", "layout", "load", "names", "save", "sources", "to_flax", "to_torch"]

_FAMILIES = (resnet, vgg, alexnet, convnext, swin, vit, gpt2, bert)
_FAMILIES += (convnext_timm, swin_timm, vit_timm)  # timm after torchvision
_FAMILIES += (gpt2_model, bert_google, bert_model, bert_masked_lm)  # the other layouts after the first sources
_CONVERTERS: dict[str, list[Converter]] = {}   # name -> its sources' converters, the first the default for export
for _family in _FAMILIES:
    for _name, _converter in _family.CONVERTERS.items():
        _CONVERTERS.setdefault(_name, []).append(_converter)


def names() -> list[str]:
    """The registered models that checkpoints can be imported into, sorted."""
    return sorted(_CONVERTERS)


def sources(name: str) -> list[str]:
    """The layouts that `name` imports from, e.g. ["torchvision.models.vit_b_16", "timm ..."]; the first is the
    default of save and layout."""
    return [c.source for c in lookup("converter for model", name, _CONVERTERS)]


def _converters(name: str, source) -> list[Converter]:
    converters = lookup("converter for model", name, _CONVERTERS)
    if source is None:
        return converters
    return [lookup(f"source of {name}", source, {c.source: c for c in converters})]


def _inputs(name: str, input_shape) -> tuple:
    """The model's abstract example inputs on `input_shape` (default: its paper's), batch 1."""
    return complexity.example_inputs(input_shape or models.input_shape_of(name), 1)


def _model(name: str, input_shape, model_kwargs):
    """The model and its abstract variables (shapes only) on `input_shape` (default: its paper's)."""
    model = models.get(name, **model_kwargs)
    abstract = jax.eval_shape(model.init, jax.random.key(0), *_inputs(name, input_shape))
    return model, {c: v for c, v in abstract.items() if c != "intermediates"}  # sown values are not weights


def _fit(rules, state_dict) -> tuple[int, int]:
    """How well a converter's rules fit a state dict: the keys they read that it has, then (a tie: a source that
    lacks part of the model, such as BertForMaskedLM next to BertForPreTraining) the fewest that it has not."""
    keys = [k for rule in rules for k in rule.sources]
    found = sum(k in state_dict for k in keys)
    return found, found - len(keys)


def _fill_absent(name: str, model, variables: dict, abstract: dict, input_shape, layers, source: str) -> dict:
    """`variables` (from rules.to_flax) with the variables of `abstract` (in `layers`, if given) that they lack,
    the converter's `absent` ones, from a fresh model.init (seed 0), each named in a warning."""
    have, wanted = _rules.flatten(variables), _rules.flatten(abstract)
    missing = [p for p in wanted if p not in have and (layers is None or _rules.in_layers(p, layers))]
    if not missing:
        return variables
    inputs = _inputs(name, input_shape)

    @jax.jit
    def fresh(key):  # only the missing variables are outputs: XLA leaves the rest of the initialisation out
        flat = _rules.flatten(model.init(key, *(jnp.zeros(x.shape, x.dtype) for x in inputs)))
        return [flat[p] for p in missing]
    have.update(zip(missing, map(np.asarray, fresh(jax.random.key(0)))))
    logging.warning("%s files do not hold %d variable(s) of deepzoo's %s: they start from model.init (seed 0), as "
                    "in an untrained model: %s", source, len(missing), name, ", ".join("/".join(p) for p in missing))
    return _rules.unflatten({p: have[p] for p in wanted if p in have})


def to_flax(name: str, state_dict: dict, *, source=None, input_shape=None, layers=None, **model_kwargs):
    """(model, variables): the registered model `name` (built with `model_kwargs`) and `state_dict` (PyTorch names
    -> arrays) as its variables. `source` picks the layout (see `sources`; default: the one whose keys the state
    dict has most of). `input_shape` (without batch) matters only where parameter shapes follow it. `layers`
    (patterns of top-level layer names, e.g. ("conv1", "bn1", "stage*")) imports those layers only: the others,
    such as a classifier head for other classes, are left out of the variables. Variables that the source's files
    lack by design (the converter's `absent` layers, e.g. BertForMaskedLM's pooler) start from model.init (seed 0)
    and a warning names them."""
    converters = _converters(name, source)
    model, abstract = _model(name, input_shape, model_kwargs)
    candidates = [(c, c.rules(model, abstract)) for c in converters]
    converter, rules = max(candidates, key=lambda c: _fit(c[1], state_dict))
    variables = _rules.to_flax(rules, state_dict, abstract, converter.ignore, layers=layers, absent=converter.absent,
                               what=f"this {converter.source} state dict, for deepzoo's {name}")
    return model, _fill_absent(name, model, variables, abstract, input_shape, layers, converter.source)


def to_torch(name: str, variables, *, source=None, input_shape=None, **model_kwargs) -> dict[str, np.ndarray]:
    """The state dict, in the source's names and layouts (default: the first of `sources`), of `variables` of the
    registered model `name`; without the variables that the source lacks (its converter's `absent` layers)."""
    converter = _converters(name, source)[0]
    model, abstract = _model(name, input_shape, model_kwargs)
    return _rules.to_torch(converter.rules(model, abstract), jax.device_get(variables), converter.absent)


def load(name: str, path, *, source=None, input_shape=None, layers=None, **model_kwargs):
    """(model, variables) of the registered model `name` from the checkpoint at `path`: a .safetensors file, a
    PyTorch .pth/.pt/.bin file (needs torch) or a Hugging Face model folder; arguments as to_flax's."""
    return to_flax(name, files.read(path), source=source, input_shape=input_shape, layers=layers, **model_kwargs)


def save(name: str, variables, path, *, source=None, overwrite: bool = False, input_shape=None, **model_kwargs):
    """Writes `variables` of `name` to `path` (.safetensors) in the source's layout, for torch or Hugging Face
    (load it there with safetensors.torch.load_file). An existing file is kept unless `overwrite`."""
    state_dict = to_torch(name, variables, source=source, input_shape=input_shape, **model_kwargs)
    return files.write(state_dict, path, overwrite=overwrite)


def layout(name: str, *, source=None, input_shape=None, **model_kwargs) -> dict[str, tuple]:
    """{state-dict key: shape} that the converter of `name` reads and writes, from shapes alone (no weights are
    allocated, so full-size models are cheap): to compare with the source's published state dict."""
    converter = _converters(name, source)[0]
    model, abstract = _model(name, input_shape, model_kwargs)
    rules = converter.rules(model, abstract)
    flat = _rules.flatten(abstract)
    shapes = {}
    for rule in rules:  # zero-stride stand-ins: the layout functions run on them without allocating the weights
        stand_ins = (np.broadcast_to(np.zeros((), flat[t].dtype), flat[t].shape) for t in rule.targets)
        shapes.update({k: tuple(np.shape(a)) for k, a in zip(rule.sources, rule.to_torch(*stand_ins))})
    return shapes

"""Importing PyTorch and Hugging Face checkpoints (deepzoo/weights): equal outputs to the reference implementations,
full-size layouts equal to the references' state dicts, a lossless round trip, and errors that name the key.

The fixtures (tests/fixtures/weights, made by its make_<family>.py scripts where torch is installed) hold small
random-weight references' state dicts and their outputs; torch is not needed here."""
import json
import logging
import pathlib

import jax
import numpy as np
import pytest

from deepzoo import weights
from deepzoo.weights import files

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "weights"
FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.npz"))
LAYOUT_FILES = [json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*_layouts.json"))]
LAYOUTS = {(entry["source"], name): entry["keys"] for layouts in LAYOUT_FILES
           for name, entry in layouts.items()}  # (source, deepzoo name) -> {key: shape}
# The first model of each file in the default suite (tracing a full-size model takes ~0.5-1.5 s), the rest slow.
FIRST = {(entry["source"], name) for layouts in LAYOUT_FILES for name, entry in list(layouts.items())[:1]}


def _fixture(name):
    data = np.load(FIXTURES / f"{name}.npz")
    meta = json.loads(str(data["meta"]))
    inputs = [data[f"input{i}"] for i in range(len(data.files) - 2)]
    return meta, inputs, data["output"]


def _load(meta, path):
    shape = tuple(meta["input_shape"]) if meta["input_shape"] else None
    return weights.load(meta["model"], path, source=meta["source"], input_shape=shape, **meta["model_kwargs"])


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_imported_model_computes_what_the_reference_does_and_exports_back_to_its_file(name, tmp_path):
    meta, inputs, expected = _fixture(name)
    model, variables = _load(meta, FIXTURES / f"{name}.safetensors")
    out = jax.jit(lambda v, *x: model.apply(v, *x, **meta["apply_kwargs"]))(variables, *inputs)
    out = out[meta["output_key"]] if meta["output_key"] is not None else out
    assert np.abs(np.asarray(out) - expected).max() <= 1e-4

    shape = tuple(meta["input_shape"]) if meta["input_shape"] else None
    path = weights.save(meta["model"], variables, tmp_path / "out.safetensors", source=meta["source"],
                        input_shape=shape, **meta["model_kwargs"])
    exported, source = files.read(path), files.read(FIXTURES / f"{name}.safetensors")
    assert sorted(exported) == sorted(source)
    for key, value in source.items():
        np.testing.assert_array_equal(exported[key], value, err_msg=key)


@pytest.mark.parametrize("source,name", [k if k in FIRST else pytest.param(*k, marks=pytest.mark.slow)
                                         for k in sorted(LAYOUTS)])
def test_full_size_layout_equals_the_reference(source, name):
    expected = {k: tuple(v) for k, v in LAYOUTS[source, name].items()}
    got = weights.layout(name, source=source)
    assert sorted(set(expected) ^ set(got)) == []
    assert {k: s for k, s in got.items() if s != expected[k]} == {}


def test_every_converter_has_a_full_size_layout():
    assert sorted(LAYOUTS) == sorted((source, name) for name in weights.names() for source in weights.sources(name))


def _resnet_fixture():
    meta, _, _ = _fixture("resnet_basic")
    return meta, files.read(FIXTURES / "resnet_basic.safetensors")


def test_a_missing_or_unexpected_key_is_named_with_the_variable_it_fills():
    meta, state = _resnet_fixture()
    del state["layer2.0.conv1.weight"]
    state["layer2.0.extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(weights.WeightsError) as e:
        weights.to_flax(meta["model"], state, input_shape=(32, 32, 3), **meta["model_kwargs"])
    assert "missing key 'layer2.0.conv1.weight' (it fills params/stage2_block1/conv1/kernel)" in str(e.value)
    assert "unexpected key 'layer2.0.extra.weight'" in str(e.value)


def test_a_source_without_part_of_the_model_fills_it_afresh_and_says_so(caplog):
    meta, inputs, expected = _fixture("bert_masked_lm")
    with caplog.at_level(logging.WARNING):   # no source given: recognised from the keys
        model, variables = weights.load("bert_base", FIXTURES / "bert_masked_lm.safetensors", **meta["model_kwargs"])
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "transformers.BertForMaskedLM" in warned
    assert "params/bert/pooler/kernel" in warned and "params/bert/pooler/bias" in warned
    assert "output_bias" not in warned and "layer1" not in warned
    fresh = model.init(jax.random.key(0), *inputs)["params"]["bert"]["pooler"]["kernel"]
    np.testing.assert_allclose(variables["params"]["bert"]["pooler"]["kernel"], fresh, rtol=1e-6, atol=1e-7)  # (jit)
    assert np.abs(np.asarray(model.apply(variables, *inputs)) - expected).max() <= 1e-4
    _, pooled = model.apply(variables, *inputs, method="encode")   # the filled pooler works
    assert pooled.shape == (2, meta["model_kwargs"]["d_model"])


def test_a_wrong_shape_names_the_key_and_both_shapes():
    meta, state = _resnet_fixture()
    state["fc.weight"] = np.zeros((10, 7), np.float32)
    with pytest.raises(weights.WeightsError, match=r"fc.weight \(10, 7\) gives params/fc/kernel \(7, 10\), but "
                                                   r"the model's is \(64, 10\)"):
        weights.to_flax(meta["model"], state, input_shape=(32, 32, 3), **meta["model_kwargs"])


def test_half_precision_checkpoints_load_as_the_model_dtype(tmp_path):
    meta, state = _resnet_fixture()
    files.write({k: v.astype(np.float16) if v.dtype == np.float32 else v for k, v in state.items()},
                tmp_path / "half.safetensors")
    _, variables = _load(meta, tmp_path / "half.safetensors")
    kernel = variables["params"]["fc"]["kernel"]
    assert kernel.dtype == np.float32
    np.testing.assert_array_equal(kernel, state["fc.weight"].astype(np.float16).astype(np.float32).T)


def test_file_errors_say_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(weights.WeightsError, match="no such file"):
        files.read(tmp_path / "absent.safetensors")
    (tmp_path / "model.pth").write_bytes(b"")
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # as where torch is not installed
    with pytest.raises(weights.WeightsError, match=r"needs torch \(pip install torch"):
        files.read(tmp_path / "model.pth")
    (tmp_path / "out.safetensors").write_bytes(b"x")
    with pytest.raises(weights.WeightsError, match="exists"):
        files.write({}, tmp_path / "out.safetensors")
    with pytest.raises(KeyError, match="unknown converter for model 'resnet5'"):
        weights.layout("resnet5")


def test_a_hugging_face_folder_with_sharded_safetensors_reads_as_one_state_dict(tmp_path):
    state = files.read(FIXTURES / "resnet_basic.safetensors")
    keys = sorted(state)
    shards = {"model-00001-of-00002.safetensors": keys[:10], "model-00002-of-00002.safetensors": keys[10:]}
    for shard, names in shards.items():
        files.write({k: state[k] for k in names}, tmp_path / shard)
    weight_map = {k: shard for shard, names in shards.items() for k in names}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    read = files.read(tmp_path)   # the folder, as from_pretrained takes it
    assert sorted(read) == keys
    for k in keys:
        np.testing.assert_array_equal(read[k], state[k])

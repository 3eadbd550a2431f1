"""Sweeps (deepzoo/train/sweep.py): the grid, label noise, width padding, vmapped = alone, resume."""
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import tensorflow_datasets as tfds

from configs import double_descent, double_descent_pods
from deepzoo import models
from deepzoo.data import label_noise
from deepzoo.train import sweep as sweep_lib
from deepzoo.train.state import create_train_state


def smoke(**sweep):
    config = double_descent.get_config("smoke")
    config.sweep.update(sweep)
    return config


def read_status(root, trial):
    return json.loads((root / trial.name / "status.json").read_text())


def test_grid_names_and_groups():
    config = smoke(width=(2, 3, 4, 8, 16), seed=(0, 1), label_noise=(0.0,), train_size=(200, 400), epochs=(4,))
    trials = sweep_lib.trials(config.sweep)
    assert len(trials) == 5 * 2 * 2 and len({t.name for t in trials}) == len(trials)
    groups = sweep_lib.plan(config, trials)
    # max_pad_ratio 1.5 within each train size: {2, 3}, {4}, {8}, {16}
    assert [sorted({t.width for t in g}) for g in groups] == [[2, 3], [4], [8], [16]] * 2
    assert all(len({(t.train_size, t.epochs) for t in g}) == 1 for g in groups)
    config.sweep.pad_widths = False
    assert len(sweep_lib.plan(config, trials)) == 10
    config.sweep.shard = "1/3"
    assert len(sweep_lib.plan(config, trials)) == 3   # groups 1, 4, 7 of 10


def test_width_kwargs_scale_per_stage_widths():
    config = smoke()
    config.model.kwargs.widths = (64, 128)
    config.sweep.width_kwargs = {"width": 1, "widths": (1, 2)}
    assert sweep_lib.model_kwargs(config, 12)["widths"] == (12, 24)
    config.sweep.width_kwargs = {"channels": 1}
    with pytest.raises(ValueError, match="config.model.kwargs lacks"):
        sweep_lib._check(config)


def test_label_noise_changes_exactly_the_fraction_inside_the_subset():
    labels = np.arange(1000) % 10
    subset = label_noise.subset(1000, 400, seed=3)
    noisy = label_noise.noisy_labels(labels, 0.15, 10, seed=3, indices=subset)
    changed = np.flatnonzero(noisy != labels)
    assert len(changed) == 60 and set(changed) <= set(subset)
    assert np.array_equal(noisy, label_noise.noisy_labels(labels, 0.15, 10, seed=3, indices=subset))
    counts = np.bincount(noisy[changed], minlength=10)
    assert counts.min() > 0          # redrawn over the other classes, not one
    # for one seed a smaller subset is part of a bigger one
    assert set(label_noise.subset(1000, 200, seed=3)) <= set(subset)
    with pytest.raises(ValueError, match="train_size"):
        label_noise.subset(1000, 2000, seed=0)


@pytest.mark.parametrize("name,kwargs,widths,x", [
    ("mlp", {}, ("width", 5, 9), np.random.default_rng(0).normal(size=(4, 40))),
    ("cnn5", {}, ("width", 2, 3), np.random.default_rng(0).normal(size=(4, 40))),
])
def test_zero_padded_network_computes_the_narrow_one(name, kwargs, widths, x):
    field, narrow_width, wide_width = widths
    narrow = models.get(name, **kwargs, **{field: narrow_width})
    wide = models.get(name, **kwargs, **{field: wide_width})
    x = jnp.asarray(x, jnp.float32)
    variables = jax.jit(narrow.init)(jax.random.key(0), x)
    padded = sweep_lib.pad_to(variables, jax.eval_shape(wide.init, jax.random.key(0), x))
    np.testing.assert_allclose(jax.jit(wide.apply)(padded, x), jax.jit(narrow.apply)(variables, x), atol=1e-6)
    back = sweep_lib.unpad(padded, variables)
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), back, variables))


def test_cnn5_parameters_match_the_layout():
    k = 64  # CIFAR-10: four 3x3 convolutions without bias, BatchNorm scale and bias, a linear head
    expected = 9 * (3 * k + k * 2 * k + 2 * k * 4 * k + 4 * k * 8 * k) + 2 * 15 * k + 8 * k * 10
    model = models.get("cnn5", width=k)
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
    assert sweep_lib.count_params(shapes["params"]) == expected == 1_557_056


def test_vmapped_trial_equals_the_same_trial_alone(tmp_path):
    # 8 trials (widths 4 and 5 padded to 5, two noise levels, two seeds): one program, the trial axis
    # split over the 8 test devices.
    together = smoke(width=(4, 5), epochs=(2,))
    rows = {(r["width"], r["label_noise"], r["seed"]): r for r in sweep_lib.run_sweep(together, tmp_path / "a")}
    assert len(rows) == 8
    alone = smoke(width=(4,), label_noise=(0.15,), seed=(1,), epochs=(2,))
    (row,) = sweep_lib.run_sweep(alone, tmp_path / "b")
    mine = rows[(4, 0.15, 1)]
    for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "train_loss_running"):
        np.testing.assert_allclose(row[key], mine[key], rtol=2e-5, err_msg=key)
    assert row["params"] == mine["params"] == 40 * 4 + 4 + 4 * 4 + 4 + 4 * 10 + 10
    # different seeds and noise give different trials
    assert rows[(4, 0.15, 0)]["train_loss"] != mine["train_loss"]


def test_interrupted_sweep_resumes_to_the_same_result_and_never_reruns_a_finished_trial(tmp_path, monkeypatch):
    config = smoke(width=(4,), label_noise=(0.15,), seed=(0,), epochs=(6,))
    reference = sweep_lib.run_sweep(config, tmp_path / "uninterrupted")

    calls = {"n": 0}

    class StopAfterFirstCheckpoint(sweep_lib.StopSignal):
        def requested(self, sync):
            calls["n"] += 1
            return calls["n"] >= 1    # a signal arrives during the first chunk of epochs

    monkeypatch.setattr(sweep_lib, "StopSignal", StopAfterFirstCheckpoint)
    with pytest.raises(sweep_lib.Stopped, match="rerun the same command"):
        sweep_lib.run_sweep(config, tmp_path / "interrupted")
    (trial,) = sweep_lib.trials(config.sweep)
    status = read_status(tmp_path / "interrupted" / "smoke", trial)
    assert status["status"] == "running" and status["epoch"] == 2
    monkeypatch.undo()
    (resumed,) = sweep_lib.run_sweep(config, tmp_path / "interrupted")
    for key in ("train_loss", "test_loss", "test_accuracy", "train_loss_running"):
        assert resumed[key] == reference[0][key], key
    curve = [json.loads(line) for line in
             (tmp_path / "interrupted" / "smoke" / trial.name / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in curve] == [2, 4, 6]

    def fail(*args, **kwargs):
        raise AssertionError("a finished trial was trained again")
    monkeypatch.setattr(sweep_lib, "_Group", fail)
    assert sweep_lib.run_sweep(config, tmp_path / "interrupted")[0]["test_loss"] == resumed["test_loss"]
    assert (tmp_path / "interrupted" / "smoke" / "curves.csv").read_text().count("\n") == 4


def test_padding_that_learns_is_caught(tmp_path):
    # sigmoid(0) = 0.5: padded units send a signal, their outgoing weights learn, the trial is no longer
    # the narrow network. The sweep says so instead of reporting a wrong curve.
    config = smoke(width=(4, 5), label_noise=(0.0,), seed=(0,), epochs=(2,))
    config.model.kwargs.activation = "sigmoid"
    with pytest.raises(RuntimeError, match="padding of width 4 changed"):
        sweep_lib.run_sweep(config, tmp_path)


def test_bad_sweeps_are_named(tmp_path):
    with pytest.raises(ValueError, match="config.sweep.seed must list"):
        sweep_lib.run_sweep(smoke(seed=()), tmp_path)
    with pytest.raises(ValueError, match="smaller than config.batch_size"):
        sweep_lib.run_sweep(smoke(train_size=(20,)), tmp_path)
    with pytest.raises(ValueError, match="unknown variant"):
        double_descent.get_config("resnet")


def test_initialisation_of_each_trial_is_its_own_narrow_network():
    # what the padded group starts from is exactly create_train_state of the narrow model
    model = models.get("mlp", width=4)
    x = jnp.zeros((2, 40))
    state = create_train_state(model, optax.sgd(0.1), x, seed=1)
    wide = jax.eval_shape(lambda: create_train_state(models.get("mlp", width=8), optax.sgd(0.1), x, seed=1))
    padded = sweep_lib.pad_to(state, wide)
    assert padded.params["hidden_1"]["kernel"].shape == (8, 8)
    np.testing.assert_array_equal(padded.params["hidden_1"]["kernel"][:4, :4], state.params["hidden_1"]["kernel"])
    assert float(jnp.abs(padded.params["hidden_1"]["kernel"][4:]).sum()) == 0.0


@pytest.mark.parametrize("variant,trials", [("resnet18", 128), ("cnn5", 128), ("transformer", 11)])
def test_pod_sweeps_are_valid(variant, trials):
    config = double_descent_pods.get_config(variant)
    sweep_lib._check(config)
    grid = sweep_lib.trials(config.sweep)
    assert len(grid) == trials
    groups = sweep_lib.plan(config, grid)
    assert sum(map(len, groups)) == trials
    if variant == "resnet18":  # k = 64 is the standard ResNet-18 (CIFAR stem)
        assert sweep_lib.model_kwargs(config, 64)["widths"] == (64, 128, 256, 512)
    if variant == "transformer":
        assert all(len({t.width for t in g}) == 1 for g in groups)   # LayerNorm: no padding


@pytest.mark.slow
def test_resnet18_sweep_trains_padded_widths_with_augmentation_on_mock_cifar10(tmp_path):
    # BatchNorm and residual shortcuts keep zero padding exact: widths 1 and 2 share a program.
    config = double_descent_pods.get_config("resnet18")
    config.sweep.update(width=(1, 2), seed=(0,), train_size=(32,), epochs=(1,), eval_every_epochs=1,
                        checkpoint_every_epochs=1)
    config.batch_size, config.eval_batch_size = 16, 16
    config.model.kwargs.dtype = "float32"
    with tfds.testing.mock_data(num_examples=32, policy=tfds.testing.MockPolicy.USE_CODE):
        rows = sweep_lib.run_sweep(config, tmp_path)
    assert len(rows) == 4 and all(0.0 <= r["test_accuracy"] <= 1.0 for r in rows)
    assert len({r["params"] for r in rows}) == 2


@pytest.mark.slow
def test_double_descent_experiment_writes_figures_csvs_and_report(tmp_path):
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, str(root / "experiments" / "double_descent.py"), "--override=smoke",
                             f"--workdir={tmp_path / 'runs'}", f"--output_dir={tmp_path / 'out'}"],
                            cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "out"
    for name in ("model_wise_mlp.png", "model_wise_cnn.png", "epoch_wise.png", "sample_wise.png", "mlp.csv",
                 "curves_mlp.csv", "cnn.csv"):
        assert (out / name).stat().st_size > 0, name
    report = (out / "results.md").read_text()
    assert "15% label noise, 400 examples (parameters = examples at width" in report and "Sample-wise" in report
    assert len((out / "mlp.csv").read_text().splitlines()) == 1 + 3 * 2 * 2 + 3 * 2   # + the 200-example trials


@pytest.mark.slow
def test_transformer_width_sweep_trains_unpadded_widths_on_mock_wmt14(tmp_path):
    # Translation pairs have no labels (label noise must be 0) and LayerNorm: one program per width.
    config = double_descent_pods.get_config("transformer")
    config.dataset.update(data_dir=str(tmp_path / "data"), vocab_size=64, max_length=16)
    config.model.kwargs.update(vocab_size=64, max_length=16, encoder_layers=1, decoder_layers=1, dtype="float32")
    config.sweep.update(width=(8, 16), seed=(0, 1), train_size=(16,), epochs=(1,))
    config.batch_size, config.eval_batch_size = 8, 8
    with tfds.testing.mock_data(num_examples=16, policy=tfds.testing.MockPolicy.USE_CODE):
        rows = sweep_lib.run_sweep(config, tmp_path / "runs")
    assert len(rows) == 4 and len({r["group"] for r in rows}) == 2
    assert all(np.isfinite(r["test_loss"]) for r in rows)

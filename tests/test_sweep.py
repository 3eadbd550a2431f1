"""Sweeps (deepzoo/train/sweep.py): the grid over config fields, groups, padding, a trial = its run alone, resume."""
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
from deepzoo.train import loop, padding, trainer
from deepzoo.train import sweep as sweep_lib
from deepzoo.train.checkpoint import load_arrays
from deepzoo.train.state import create_train_state


def smoke(**changes):
    """configs/double_descent.py:smoke with `changes` to its fields ("sweep.axes.seed": (0,), ...)."""
    config = double_descent.get_config("smoke")
    for field, value in changes.items():
        sweep_lib._set(config, field, value)
    return config


def test_grid_names_ties_and_groups():
    config = smoke()
    grid = sweep_lib.trials(config)
    assert len(grid) == 3 * 2 * 2 and all(t["dataset.subset_seed"] == t["seed"] for t in grid)
    names = {sweep_lib.trial_name(config, t) for t in grid}
    assert "label_noise0.15_width8_seed1" in names and len(names) == 12
    groups = sweep_lib.plan(config, grid)   # widths 4, 8, 16 are more than 1.5x apart: three programs
    assert [sorted({t["model.kwargs.width"] for t in g}) for g in groups] == [[4], [8], [16]]
    config.sweep.max_pad_ratio = 4.0
    assert [len(g) for g in sweep_lib.plan(config, grid)] == [12]
    config.sweep.shard = "1/3"
    config.sweep.max_pad_ratio = 1.5
    assert [sorted({t["model.kwargs.width"] for t in g}) for g in sweep_lib.plan(config, grid)] == [[8]]
    # a learning rate is an array in the optimizer state; a zero and a non-zero momentum are two chains
    config = smoke(**{"sweep.axes.optimizer": {"learning_rate": (0.01, 0.1), "momentum": (0.0, 0.9)},
                      "sweep.axes.model.kwargs.width": (8,)})
    groups = sweep_lib.plan(config, sweep_lib.trials(config))
    assert sorted(len(g) for g in groups) == [8, 8]
    assert all(len({t["optimizer.momentum"] for t in g}) == 1 for g in groups)


def test_trial_config_is_the_supervised_run_of_the_trial():
    config = smoke()
    trial = sweep_lib.trials(config)[5]
    c = sweep_lib.trial_config(config, trial)
    assert "sweep" not in c and c.program == "supervised"
    assert (c.model.kwargs.width, c.dataset.label_noise, c.seed, c.dataset.subset_seed) == (
        trial["model.kwargs.width"], trial["dataset.label_noise"], trial["seed"], trial["seed"])


def test_bad_sweeps_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"axes.optimizer.learnig_rate names no field.*optimizer.learning_rate"):
        sweep_lib.trials(smoke(**{"sweep.axes.optimizer": {"learnig_rate": (0.1,)}}))
    with pytest.raises(ValueError, match=r"axes.seed=\(\) must be a non-empty tuple"):
        sweep_lib.trials(smoke(**{"sweep.axes.seed": ()}))
    with pytest.raises(ValueError, match="tied.dataset.subset_seed names 'sed', which is no axis"):
        sweep_lib.trials(smoke(**{"sweep.tied.dataset.subset_seed": "sed"}))
    with pytest.raises(ValueError, match="make no batch of config.batch_size=50"):
        sweep_lib.run_sweep(smoke(**{"dataset.train_examples": 20}), tmp_path)
    with pytest.raises(ValueError, match="unknown variant"):
        double_descent.get_config("resnet")


def test_label_noise_changes_exactly_the_fraction_drawn_from_the_other_classes():
    labels = np.arange(1000) % 10
    noisy = label_noise.noisy_labels(labels, 0.15, 10, seed=3)
    changed = np.flatnonzero(noisy != labels)
    assert len(changed) == 150 and np.bincount(noisy[changed], minlength=10).min() > 0
    assert np.array_equal(noisy, label_noise.noisy_labels(labels, 0.15, 10, seed=3))
    with pytest.raises(ValueError, match="label_noise=1.5"):
        label_noise.noisy_labels(labels, 1.5, 10, seed=0)


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
    padded = padding.pad_to(variables, jax.eval_shape(wide.init, jax.random.key(0), x))
    np.testing.assert_allclose(jax.jit(wide.apply)(padded, x), jax.jit(narrow.apply)(variables, x), atol=1e-6)
    back = padding.unpad(padded, variables)
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), back, variables))


def test_cnn5_parameters_match_the_layout():
    k = 64  # CIFAR-10: four 3x3 convolutions without bias, BatchNorm scale and bias, a linear head
    expected = 9 * (3 * k + k * 2 * k + 2 * k * 4 * k + 4 * k * 8 * k) + 2 * 15 * k + 8 * k * 10
    model = models.get("cnn5", width=k)
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
    assert padding.count_params(shapes["params"]) == expected == 1_557_056


def test_initialisation_of_each_trial_is_its_own_narrow_network():
    # what the padded group starts from is exactly create_train_state of the narrow model
    model = models.get("mlp", width=4)
    x = jnp.zeros((2, 40))
    state = create_train_state(model, optax.sgd(0.1), x, seed=1)
    wide = jax.eval_shape(lambda: create_train_state(models.get("mlp", width=8), optax.sgd(0.1), x, seed=1))
    padded = padding.pad_to(state, wide)
    assert padded.params["hidden_1"]["kernel"].shape == (8, 8)
    np.testing.assert_array_equal(padded.params["hidden_1"]["kernel"][:4, :4], state.params["hidden_1"]["kernel"])
    assert float(jnp.abs(padded.params["hidden_1"]["kernel"][4:]).sum()) == 0.0


def _tiny(**changes):
    """8 trials in one program: widths 4 and 5 (padded to 5), two learning rates, two seeds; 8 steps."""
    return smoke(**{"sweep.axes.model.kwargs.width": (4, 5), "sweep.axes.dataset.label_noise": (0.15,),
                    "sweep.axes.optimizer": {"learning_rate": (0.05, 0.2)}, "dataset.train_examples": 200,
                    "num_epochs": 2, "batch_size": 40, "log_every_epochs": 1, "eval_every_epochs": 1, "checkpoint_every_epochs": 1,
                    **changes})


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    rows = sweep_lib.run_sweep(_tiny(), root)
    return root, rows


def test_a_trial_equals_its_run_alone(tiny_sweep, tmp_path):
    # One data order (the pipeline's), the library's step, the trial's own seed and learning rate: the
    # vmapped trial is the supervised run of its config.
    root, rows = tiny_sweep
    config = _tiny()
    assert len(rows) == 8 and len({r["group"] for r in rows}) == 1
    trial = next(t for t in sweep_lib.trials(config) if t["model.kwargs.width"] == 4 and t["seed"] == 1 and
                 t["optimizer.learning_rate"] == 0.2)
    alone = trainer.train_and_evaluate(sweep_lib.trial_config(config, trial), tmp_path)
    row = next(r for r in rows if r["width"] == 4 and r["seed"] == 1 and r["learning_rate"] == 0.2)
    assert row["test_loss"] == alone["test_loss"] and row["test_accuracy"] == alone["test_accuracy"]
    assert row["params"] == 40 * 4 + 4 + 4 * 4 + 4 + 4 * 10 + 10
    group = load_arrays(str(root / "smoke" / "groups" / row["group"] / "checkpoints"))["params"]
    mine = sweep_lib.trials(config).index(trial)
    order = [sweep_lib.trial_name(config, t) for t in sweep_lib.plan(config, sweep_lib.trials(config))[0]]
    i = order.index(sweep_lib.trial_name(config, trial))
    narrow = load_arrays(str(tmp_path / "checkpoints"))["params"]
    padded = jax.tree.map(lambda x: x[i], group)
    # The run alone splits its batch over the 8 test devices, so its gradient sums in another order:
    # parameters agree to an ulp (measured: 1.5e-8 at most), and the test loss is bitwise the same.
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), padding.unpad(padded, narrow),
                 narrow)
    assert mine >= 0 and rows[0]["test_loss"] != rows[1]["test_loss"]  # and the trials differ


def test_interrupted_sweep_resumes_to_the_same_result_and_never_reruns_a_finished_group(tiny_sweep, tmp_path,
                                                                                        monkeypatch):
    _, reference = tiny_sweep
    config = _tiny()

    class StopAtFirstChunk(loop.StopSignal):
        def requested(self, sync):
            return True   # a SIGTERM arrives during the first chunk
    monkeypatch.setattr(loop, "StopSignal", StopAtFirstChunk)
    with pytest.raises(loop.Stopped, match="group 1 of 1.*rerun the same command"):
        sweep_lib.run_sweep(config, tmp_path)
    monkeypatch.undo()
    resumed = sweep_lib.run_sweep(config, tmp_path)
    key = lambda r: (r["width"], r["learning_rate"], r["seed"])
    for a, b in zip(sorted(resumed, key=key), sorted(reference, key=key)):
        assert a["test_loss"] == b["test_loss"] and a["train_accuracy"] == b["train_accuracy"]
    groups = list((tmp_path / "smoke" / "groups").iterdir())
    (group,) = groups
    assert sorted(p.name for p in group.iterdir() if p.name.startswith("config")) == [
        "config.json", "config.resumed_at_1.json"]
    # finished: a third run trains nothing and returns the same rows
    assert sweep_lib.run_sweep(config, tmp_path) == resumed
    assert (tmp_path / "smoke" / "curves.csv").read_text().count("\n") == 1 + 8 * 2


def test_a_group_with_a_damaged_newest_checkpoint_resumes_from_the_previous_one(tiny_sweep, tmp_path):
    # The sweep's groups are programs of the one loop: the same fault handling as a supervised run's.
    import json
    import shutil
    root, reference = tiny_sweep
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)
    (group,) = (tmp_path / "smoke" / "groups").iterdir()
    shutil.rmtree(group / "checkpoints" / "2")
    (group / "checkpoints" / "2").mkdir()   # the last save was killed after its mkdir
    (group / "results.json").unlink()
    (group / "status.json").write_text(json.dumps({"status": "running", "chunk": 2}))
    resumed = sweep_lib.run_sweep(_tiny(), tmp_path)
    assert (group / "checkpoints_damaged" / "2").is_dir()
    key = lambda r: (r["width"], r["learning_rate"], r["seed"])
    for a, b in zip(sorted(resumed, key=key), sorted(reference, key=key)):
        assert a["test_loss"] == b["test_loss"] and a["train_accuracy"] == b["train_accuracy"]


def test_padding_that_learns_is_caught(tmp_path):
    # sigmoid(0) = 0.5: padded units send a signal, their outgoing weights learn, the trial is no longer
    # the narrow network. The sweep says so instead of reporting a wrong curve.
    config = _tiny(**{"sweep.axes.optimizer": {"learning_rate": (0.05,)}, "sweep.axes.seed": (0,)})
    config.model.kwargs.activation = "sigmoid"
    with pytest.raises(RuntimeError, match="its padding changed during training"):
        sweep_lib.run_sweep(config, tmp_path)


@pytest.mark.parametrize("variant,trials", [("resnet18", 128), ("cnn5", 128), ("transformer", 11)])
def test_pod_sweeps_are_valid(variant, trials):
    config = double_descent_pods.get_config(variant)
    grid = sweep_lib.trials(config)
    assert len(grid) == trials
    groups = sweep_lib.plan(config, grid)
    assert sum(map(len, groups)) == trials
    if variant == "resnet18":  # k = 64 is the standard ResNet-18 (CIFAR stem)
        assert grid[-1]["model.kwargs.widths"] == (64, 128, 256, 512)
    if variant == "transformer":
        assert all(len(g) == 1 for g in groups)   # LayerNorm: no padding
        assert grid[0]["model.kwargs.mlp_dim"] == 4 * grid[0]["model.kwargs.d_model"]


@pytest.mark.slow
def test_resnet18_sweep_trains_padded_widths_with_augmentation_on_mock_cifar10(tmp_path):
    # BatchNorm and residual shortcuts keep zero padding exact: widths 1 and 2 share a program.
    config = double_descent_pods.get_config("resnet18")
    config.sweep.axes.model.kwargs.stem_width = (1, 2)
    config.update(num_epochs=1, log_every_epochs=1, eval_every_epochs=1, checkpoint_every_epochs=1,
                  batch_size=16, eval_batch_size=16)
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
                 "curves_mlp.csv", "cnn.csv", "samples.csv"):
        assert (out / name).stat().st_size > 0, name
    report = (out / "results.md").read_text()
    assert "15% label noise, 400 examples (parameters = examples at width" in report and "Sample-wise" in report
    assert len((out / "mlp.csv").read_text().splitlines()) == 1 + 3 * 2 * 2
    assert len((out / "samples.csv").read_text().splitlines()) == 1 + 3 * 2 * 2 + 3 * 2   # + the 200-example trials


@pytest.mark.slow
def test_transformer_width_sweep_trains_unpadded_widths_on_mock_wmt14(tmp_path):
    # Translation pairs have no labels (label noise must be 0) and LayerNorm: one program per width.
    config = double_descent_pods.get_config("transformer")
    config.dataset.update(data_dir=str(tmp_path / "data"), vocab_size=64, max_length=16)
    config.model.kwargs.update(vocab_size=64, max_length=16, encoder_layers=1, decoder_layers=1, dtype="float32")
    config.sweep.axes.model.kwargs.d_model = (8, 16)
    config.sweep.axes.seed = (0, 1)
    config.update(num_epochs=1, log_every_epochs=1, eval_every_epochs=1, checkpoint_every_epochs=1,
                  batch_size=8, eval_batch_size=8)
    with tfds.testing.mock_data(num_examples=16, policy=tfds.testing.MockPolicy.USE_CODE):
        rows = sweep_lib.run_sweep(config, tmp_path / "runs")
    assert len(rows) == 4 and len({r["group"] for r in rows}) == 2
    assert all(np.isfinite(r["validation_loss"]) for r in rows)


def test_a_trial_done_under_another_sweep_of_the_directory_is_not_rerun(tiny_sweep):
    # as double_descent.py:samples reuses the 4,000-example trials of :mlp, whose axes do not name the size
    root, reference = tiny_sweep
    config = _tiny(**{"sweep.axes.dataset.train_examples": (120, 200), "sweep.axes.seed": (0,),
                      "sweep.axes.optimizer": {"learning_rate": (0.05,)}})
    rows = sweep_lib.run_sweep(config, root)
    assert [(r["train_examples"], r["width"]) for r in rows] == [(120, 4), (120, 5), (200, 4), (200, 5)]
    old = {(r["width"], r["seed"], r["learning_rate"]): r for r in reference}
    for r in rows[2:]:   # the 200-example trials: the earlier sweep's rows, not retrained
        assert r["group"] == old[(r["width"], 0, 0.05)]["group"] and r["test_loss"] == old[(r["width"], 0, 0.05)][
            "test_loss"]
    assert len((root / "smoke" / "results.csv").read_text().splitlines()) == 1 + 8 + 2

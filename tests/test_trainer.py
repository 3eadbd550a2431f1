"""The trainer: its run files, non-finite losses, clear errors (faults and resume: test_faults.py)."""
import glob
import json
import os
import signal

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from deepzoo import config as config_lib
from deepzoo.train import trainer
from deepzoo.train.checkpoint import load_arrays
from deepzoo.train.writers import read_metrics

# 8 fake devices: batches are multiples of 8. Dropout, BatchNorm, a cosine schedule, an EMA and
# gradient accumulation make resuming non-trivial (rng, model state, optimizer step, data position).
SMALL = {"batch_size": 64, "eval_batch_size": 1000, "num_train_steps": 20, "log_every_steps": 5,
         "eval_every_steps": 10, "checkpoint_every_steps": 10, "ema_decay": 0.9, "grad_accum_steps": 2,
         "model.kwargs.dropout_rate": 0.1, "model.kwargs.batch_norm": True,
         "optimizer.schedule": "cosine", "optimizer.warmup_steps": 3}


def small_config(**overrides):
    return config_lib.load("configs/mnist1d_mlp.py:smoke", **{**SMALL, **overrides})


def final_checkpoint(workdir):
    state = load_arrays(os.path.join(workdir, "checkpoints"))
    return int(state["step"]), state


def interrupt_at(monkeypatch, step, *, signum=signal.SIGTERM, nan=False):
    """Sends `signum` to this process as the trainer takes the batch of data step `step`, or puts a NaN in that
    batch (then fed from the host: a split held on the device has no host batch to poison)."""
    if nan:
        monkeypatch.setattr(trainer, "ON_DEVICE_MAX_BYTES", 0)
        original = trainer.data.train_batches

        def batches(*args, start_step=0, **kwargs):
            for i, batch in enumerate(original(*args, start_step=start_step, **kwargs), start_step):
                if i == step:
                    batch["input"][0, 0] = np.nan
                yield batch
        monkeypatch.setattr(trainer.data, "train_batches", batches)
        return
    run = trainer.Supervised.run

    def signalling_run(self, state, loop_step):
        if loop_step - 1 == step:   # the loop counts from 1, the data from 0
            os.kill(os.getpid(), signum)
        return run(self, state, loop_step)
    monkeypatch.setattr(trainer.Supervised, "run", signalling_run)


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("straight"))
    results = trainer.train_and_evaluate(small_config(), workdir)
    return workdir, results


def test_run_writes_metrics_curves_checkpoints_and_learns(straight_run):
    workdir, results = straight_run
    assert os.path.exists(os.path.join(workdir, "learning_curves.png"))
    assert glob.glob(os.path.join(workdir, "tensorboard", "events.out.tfevents.*"))
    records = read_metrics(workdir)
    assert [r["step"] for r in records if r["split"] == "train"] == [5, 10, 15, 20]
    assert {r["split"] for r in records} == {"train", "test"}
    assert "ema_accuracy" in records[-1]
    assert results["test_accuracy"] > 0.2  # well above chance (0.1) after 20 steps
    with open(os.path.join(workdir, "results.json")) as f:
        assert json.load(f)["step"] == 20
    with open(os.path.join(workdir, "status.json")) as f:
        assert json.load(f)["status"] == "done"
    assert sorted(int(os.path.basename(p)) for p in glob.glob(f"{workdir}/checkpoints/[0-9]*")) == [10, 20]


def test_a_split_held_on_the_device_trains_bitwise_as_one_fed_from_the_host_and_resumes(straight_run, tmp_path,
                                                                                         monkeypatch):
    workdir, _ = straight_run   # MNIST-1D is held on the device
    assert trainer.Supervised(small_config()).on_device
    with monkeypatch.context() as patch:
        patch.setattr(trainer, "ON_DEVICE_MAX_BYTES", 0)
        assert not trainer.Supervised(small_config()).on_device
        trainer.train_and_evaluate(small_config(), str(tmp_path / "host"))
    interrupt_at(monkeypatch, step=13)   # past the first chunk of rows sent to the device (ORDER_CHUNK = 8 here)
    monkeypatch.setattr(trainer, "ORDER_CHUNK", 8)
    with pytest.raises(trainer.Stopped):
        trainer.train_and_evaluate(small_config(), str(tmp_path / "resumed"))
    monkeypatch.undo()
    trainer.train_and_evaluate(small_config(), str(tmp_path / "resumed"))
    expected = final_checkpoint(workdir)[1]
    for run in ("host", "resumed"):
        jax.tree.map(np.testing.assert_array_equal, final_checkpoint(str(tmp_path / run))[1], expected)


def test_nan_stops_the_run_naming_the_step_and_keeps_the_good_checkpoint(tmp_path, monkeypatch):
    interrupt_at(monkeypatch, step=13, nan=True)
    with pytest.raises(trainer.NonFiniteError, match=r"non-finite loss at step 14.*last good checkpoint"):
        trainer.train_and_evaluate(small_config(), str(tmp_path))
    step, state = final_checkpoint(str(tmp_path))
    assert step == 10
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(state["params"]))


def test_tfds_mock_data_trains_a_few_steps(tmp_path):
    config = small_config(**{"dataset.name": "mnist", "dataset.eval_split": "test", "eval_batch_size": 16,
                             "num_train_steps": 4, "log_every_steps": 2, "eval_every_steps": 2,
                             "checkpoint_every_steps": 2})
    with tfds.testing.mock_data(num_examples=32, policy=tfds.testing.MockPolicy.USE_CODE):
        results = trainer.train_and_evaluate(config, str(tmp_path))
    assert np.isfinite(results["loss"]) and 0.0 <= results["test_accuracy"] <= 1.0


@pytest.mark.parametrize("overrides,error,message", [
    ({"model.name": "resnet"}, KeyError, r"unknown model 'resnet'.*Known models: .*mlp"),
    ({"dataset.name": "mnist_1d"}, KeyError, r"unknown dataset 'mnist_1d'.*mnist1d"),
    ({"task.name": "clasification"}, KeyError, r"Did you mean 'classification'"),
    ({"optimizer.name": "adamm"}, KeyError, r"unknown optimizer 'adamm'.*Did you mean 'adam'"),
    ({"model.kwargs.num_outputs": 5}, ValueError, r"outputs 5 logits but the dataset has 10 classes.*num_classes=10 \(num_outputs"),
    ({"batch_size": 100}, ValueError, r"batch_size=100 .* 8 devices.*multiple of .* 16"),
    ({"log_every_steps": 0}, ValueError, r"config.log_every_steps=0 must be a whole number >= 1"),
    ({"ema_decay": 1.5}, ValueError, r"config.ema_decay=1.5 must be in \[0, 1\)"),
    ({"model.kwargs.dtype": "bf16"}, TypeError, r"dtype='bf16' is not a dtype; use float32, bfloat16"),
])
def test_bad_configs_say_what_to_do(tmp_path, overrides, error, message):
    with pytest.raises(error, match=message):
        trainer.train_and_evaluate(small_config(**overrides), str(tmp_path))


def test_unknown_config_field_says_which_fields_exist():
    with pytest.raises(KeyError, match=r"no field 'optimizer.learnig_rate'.*learning_rate"):
        config_lib.load("configs/mnist1d_mlp.py", **{"optimizer.learnig_rate": 0.1})


def test_checkpoint_past_the_configured_steps_is_an_error(straight_run):
    with pytest.raises(ValueError, match=r"checkpoint at step 20, past config.num_train_steps=10"):
        trainer.train_and_evaluate(small_config(num_train_steps=10), straight_run[0])


def test_a_run_may_count_epochs_of_its_own_training_set():
    config = small_config(num_train_steps=0)
    config.unlock()
    config.update(num_epochs=3, eval_every_epochs=2)
    periods = trainer.schedule(config, train_size=400)   # 400 // 64 = 6 steps an epoch
    assert periods == {"num_steps": 18, "log_every": 5, "eval_every": 12, "checkpoint_every": 10}
    config.batch_size = 512
    with pytest.raises(ValueError, match="the 400 training examples make no batch of config.batch_size=512"):
        trainer.schedule(config, train_size=400)

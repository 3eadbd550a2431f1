"""Model FLOPs against XLA's count, the accelerators' peaks, and MFU/HFU in a run's metrics."""
import types

import jax
import numpy as np
import optax
import pytest

from deepzoo import config as config_lib
from deepzoo import models, tasks
from deepzoo.train import flops, trainer
from deepzoo.train.writers import read_metrics
from deepzoo.train.state import create_train_state
from deepzoo.train.step import make_train_step


def test_a_transformers_model_flops_are_xlas_count_within_two_percent():
    # Every layer's input gradient is needed (the embeddings train), nothing is recomputed: 3 forwards is exact
    # for the matmuls; XLA adds the elementwise work (norms, softmax, GELU, Adam), here about 1%.
    model = models.get("gpt2", vocab_size=512, max_length=128, num_layers=2, d_model=256, num_heads=4, dropout_rate=0.0)
    task, tx = tasks.get("language_model"), optax.adam(1e-3)
    batch = {"tokens": np.ones((8, 129), np.int32)}
    state = jax.jit(lambda: create_train_state(model, tx, task.inputs(batch), seed=0))()
    model_count = flops.model_flops(model, {"params": state.params}, task.inputs(batch))
    # by hand: per token 2 x 12 d^2 per block (attention 4 d^2, MLP 8 d^2) + 2 x 2 T d (scores, values) + 2 d V
    d, T, V = 256, 128, 512
    assert model_count == 3 * 8 * T * 2 * (2 * 12 * d * d + 2 * 2 * T * d + d * V)
    xla = flops.step_flops(jax.jit(make_train_step(model, task, tx, seed=0)), state, batch)
    assert abs(xla / model_count - 1) < 0.02


def test_the_peak_is_the_datasheets_for_a_known_accelerator_else_measured(monkeypatch):
    h100 = types.SimpleNamespace(device_kind="NVIDIA H100 80GB HBM3", platform="gpu")
    monkeypatch.setattr(jax, "devices", lambda: [h100] * 4)
    monkeypatch.setattr(jax, "device_count", lambda: 4)
    assert flops.peak_flops("bfloat16") == 4 * 989e12 and flops.peak_flops("float32") == 4 * 495e12
    cpu = types.SimpleNamespace(device_kind="cpu", platform="cpu")
    monkeypatch.setattr(jax, "devices", lambda: [cpu])
    monkeypatch.setattr(flops, "matmul_peak", lambda dtype: 1.5e11)
    assert flops.peak_flops("float32") == 1.5e11


def test_a_run_with_log_mfu_records_model_and_hardware_utilisation(tmp_path, monkeypatch):
    monkeypatch.setattr(flops, "matmul_peak", lambda dtype: 1e11)        # no timing in a test
    config = config_lib.load("configs/mnist1d_mlp.py:smoke")
    with config.unlocked():
        config.log_mfu = True
    config.batch_size = 80                                               # 8 devices in the tests
    trainer.train_and_evaluate(config, tmp_path)
    record = [r for r in read_metrics(tmp_path) if r["split"] == "train"][-1]
    # 40 -> 100 -> 100 -> 10: 15,000 MACs per example, batches of 80, 3 forwards of 2 FLOPs per MAC
    assert record["mfu"] * 1e11 / record["steps_per_sec"] == pytest.approx(6 * 80 * 15_000, rel=1e-6)
    # the first layer needs no input gradient, which XLA leaves out and the model count keeps
    assert 0.85 < record["hfu"] / record["mfu"] < 1.0

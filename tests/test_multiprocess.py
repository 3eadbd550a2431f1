"""Multi-host correctness on one machine: 2 processes x 4 CPU devices (jax.distributed over
127.0.0.1, gloo collectives) train to the same parameters as 1 process x 8 devices."""
import os
import subprocess
import sys

import jax
import numpy as np
import portpicker

from deepzoo import config as config_lib, data
from deepzoo.train import trainer
from deepzoo.train.checkpoint import load_arrays

OVERRIDES = {"batch_size": 64, "eval_batch_size": 1000, "num_train_steps": 5, "log_every_steps": 5,
             "eval_every_steps": 5, "checkpoint_every_steps": 5, "grad_accum_steps": 2,
             "model.kwargs.batch_norm": True}


def params_of(workdir):
    return load_arrays(os.path.join(workdir, "checkpoints"))["params"]


def test_two_processes_equal_one_process(tmp_path):
    data.load("mnist1d", "train")  # prepared once here, so the processes only read it
    reference = str(tmp_path / "one_process")
    trainer.train_and_evaluate(config_lib.load("configs/mnist1d_mlp.py:smoke", **OVERRIDES), reference)

    workdir, port = str(tmp_path / "two_processes"), portpicker.pick_unused_port()
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    command = [sys.executable, "-m", "deepzoo.main", "--config=configs/mnist1d_mlp.py:smoke",
               f"--workdir={workdir}", f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2",
               *[f"--config.{k}={v}" for k, v in OVERRIDES.items()]]
    processes = [subprocess.Popen([*command, f"--process_id={i}"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for i in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    for p, out in zip(processes, outputs):
        assert p.returncode == 0, out[-3000:]
    assert "on 8 devices (2 processes)" in outputs[0]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                 params_of(workdir), params_of(reference))

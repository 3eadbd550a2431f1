"""Pieces the benchmarks share: build a model's jitted train step the way the trainer does, time it."""
import functools
import json
import os
import platform
import time

import jax
import numpy as np

from deepzoo import models, tasks
from deepzoo.train import optim, sharding
from deepzoo.train.state import create_train_state
from deepzoo.train.step import make_train_step


def build(config, example_input, mesh):
    """(state, jitted train step) for `config` on `mesh`, as train_and_evaluate builds them."""
    model = models.get(config.model.name, **config.model.kwargs)
    task = tasks.get(config.task.name, **config.task.kwargs)
    tx, _ = optim.create(config.optimizer, config.num_train_steps)
    init = functools.partial(create_train_state, model, tx, example_input, seed=config.seed)
    state_sharding = jax.tree.map(lambda _: sharding.replicated(mesh), jax.eval_shape(init))
    state = jax.jit(init, out_shardings=state_sharding)()
    step = jax.jit(make_train_step(model, task, tx, seed=config.seed),
                   in_shardings=(state_sharding, sharding.batch_sharded(mesh)),
                   out_shardings=(state_sharding, sharding.replicated(mesh)), donate_argnums=0)
    return state, step


def steps_per_second(run_steps, num_steps: int, repeats: int = 3) -> float:
    """Best of `repeats` timings of run_steps(num_steps), which must block on its last result."""
    run_steps(5)  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_steps(num_steps)
        times.append(time.perf_counter() - start)
    return num_steps / min(times)


def machine() -> dict:
    return {"platform": platform.platform(), "cpu_count": os.cpu_count(), "jax": jax.__version__,
            "devices": [str(d) for d in jax.devices()][:2] + (["..."] if jax.device_count() > 2 else [])}


def write(name: str, figures: dict) -> str:
    path = os.path.join(os.path.dirname(__file__), "results", f"{name}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"benchmark": name, "date": time.strftime("%Y-%m-%d"), "machine": machine(),
                   **figures}, f, indent=2)
    print(json.dumps(figures, indent=2))
    print(f"written to {path}")
    return path


def random_batch(num, shape, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return {"input": rng.normal(size=(num, *shape)).astype(np.float32),
            "label": rng.integers(0, classes, num).astype(np.int32)}

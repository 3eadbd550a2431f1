"""Input pipeline throughput against what the train step consumes, and the trainer's steps/s with
real data against synthetic data (one batch already on the device): real data held on the device (the trainer's
default for an in-memory split) and fed from the host batch by batch. Target: real >= 95% of synthetic.

    .venv/bin/python benchmarks/input_pipeline.py      # writes benchmarks/results/input_pipeline.json
"""
import itertools
import os
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(__file__))
from common import steps_per_second, write  # noqa: E402

from deepzoo import config as config_lib, data  # noqa: E402
from deepzoo.train import sharding, trainer  # noqa: E402

CASES = [  # (name, dataset, model kwargs, batch)
    ("mnist1d_mlp", "mnist1d", dict(depth=2, width=100), 100),
    ("mnist5k_mlp", "mnist5k", dict(depth=2, width=512), 128),
]
IN_FLIGHT = 4  # as the loop keeps them (loop._MAX_IN_FLIGHT)


def pipeline_batches_per_second(source, batch_size, num=2000, prefetch=0):
    batches = data.train_batches(source, global_batch_size=batch_size, seed=0, prefetch=prefetch)
    next(batches)
    start = time.perf_counter()
    for _ in itertools.islice(batches, num):
        pass
    return num / (time.perf_counter() - start)


def trainer_steps_per_second(config, on_device: bool, synthetic: bool = False, rounds: int = 5) -> float:
    """The trainer's own steps (trainer.Supervised.run, IN_FLIGHT dispatched ahead as the loop keeps them), its
    training split held on the device or fed from the host; or, synthetic, its train step on one batch already
    on the device. Best of `rounds` of 500 steps."""
    trainer.ON_DEVICE_MAX_BYTES = 256 * 2**20 if on_device else 0
    program = trainer.Supervised(config)
    program.begin(0)
    holder, counter = [program.init()], itertools.count(1)
    fixed = sharding.global_batch(program.train_source.read(range(config.batch_size)), program.mesh)
    step = (lambda state, _: program.train_step(state, fixed)) if synthetic else program.run

    def train(n):
        history = []
        for _ in range(n):
            holder[0], metrics = step(holder[0], next(counter))
            if len(history) >= IN_FLIGHT:
                jax.block_until_ready(history[-IN_FLIGHT])
            history.append(metrics)
        jax.block_until_ready(history[-1])
    return steps_per_second(train, 500, repeats=rounds)


def main():
    figures = {}
    for name, dataset, kwargs, batch_size in CASES:
        config = config_lib.load("configs/mnist1d_mlp.py", **{
            "dataset.name": dataset, "batch_size": batch_size, "num_train_steps": 20_000,
            **{f"model.kwargs.{k}": v for k, v in kwargs.items()}})
        cached = data.load(dataset, "train")
        records = data.load(dataset, "train", cache=False)
        # Alternate the three, best of each, so that drifts in machine load hit them alike.
        synthetic = real = host = 0.0
        for _ in range(3):
            synthetic = max(synthetic, trainer_steps_per_second(config, True, synthetic=True))
            real = max(real, trainer_steps_per_second(config, True))
            host = max(host, trainer_steps_per_second(config, False))
        figures[name] = {
            "batch": batch_size,
            "pipeline_batches_per_sec_in_memory": round(pipeline_batches_per_second(cached, batch_size), 1),
            "pipeline_batches_per_sec_from_array_record": round(
                pipeline_batches_per_second(records, batch_size, num=50), 1),
            "pipeline_batches_per_sec_from_array_record_prefetch4": round(
                pipeline_batches_per_second(records, batch_size, num=50, prefetch=4), 1),
            "train_steps_per_sec_synthetic": round(synthetic, 1),
            "train_steps_per_sec_real_data": round(real, 1),
            "train_steps_per_sec_real_data_fed_from_the_host": round(host, 1),
            "real_over_synthetic": round(real / synthetic, 3),
            "fed_from_the_host_over_synthetic": round(host / synthetic, 3),
        }
        print(name, figures[name], flush=True)
    write("input_pipeline", {"description": " ".join(__doc__.split("\n\n")[0].split()), **figures})


if __name__ == "__main__":
    main()

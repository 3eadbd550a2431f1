"""Input pipeline throughput against what the train step consumes, and the trainer's steps/s with
real data against synthetic data (one batch already on the device). Target: real >= 95% of synthetic.

    .venv/bin/python benchmarks/input_pipeline.py      # writes benchmarks/results/input_pipeline.json
"""
import itertools
import os
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(__file__))
from common import build, steps_per_second, write  # noqa: E402

from deepzoo import config as config_lib, data  # noqa: E402
from deepzoo.train import sharding  # noqa: E402

CASES = [  # (name, dataset, model kwargs, batch)
    ("mnist1d_mlp", "mnist1d", dict(depth=2, width=100), 100),
    ("mnist5k_mlp", "mnist5k", dict(depth=2, width=512), 128),
]
IN_FLIGHT = 4  # as the trainer (trainer._MAX_IN_FLIGHT)


def pipeline_batches_per_second(source, batch_size, num=2000, prefetch=0):
    batches = data.train_batches(source, global_batch_size=batch_size, seed=0, prefetch=prefetch)
    next(batches)
    start = time.perf_counter()
    for _ in itertools.islice(batches, num):
        pass
    return num / (time.perf_counter() - start)


def main():
    mesh = sharding.make_mesh(jax.devices()[:1])
    figures = {}
    for name, dataset, kwargs, batch_size in CASES:
        config = config_lib.load("configs/mnist1d_mlp.py", **{
            "dataset.name": dataset, **{f"model.kwargs.{k}": v for k, v in kwargs.items()}})
        cached = data.load(dataset, "train")
        records = data.load(dataset, "train", cache=False)
        state, step = build(config, cached.read(range(1))["input"], mesh)
        holder = [state]

        def train(batches, n):
            history = []
            for _ in range(n):
                holder[0], metrics = step(holder[0], next(batches))
                if len(history) >= IN_FLIGHT:
                    jax.block_until_ready(history[-IN_FLIGHT])
                history.append(metrics)
            jax.block_until_ready(history[-1])

        fixed = sharding.global_batch(cached.read(range(batch_size)), mesh)
        real_batches = (sharding.global_batch(b, mesh) for b in
                        data.train_batches(cached, global_batch_size=batch_size, seed=0))
        # Alternate the two, best of each, so that drifts in machine load hit both alike.
        synthetic, real = 0.0, 0.0
        for _ in range(5):
            synthetic = max(synthetic, steps_per_second(
                lambda n: train(itertools.repeat(fixed), n), 500, repeats=1))
            real = max(real, steps_per_second(lambda n: train(real_batches, n), 500, repeats=1))
        figures[name] = {
            "batch": batch_size,
            "pipeline_batches_per_sec_in_memory": round(pipeline_batches_per_second(cached, batch_size), 1),
            "pipeline_batches_per_sec_from_array_record": round(
                pipeline_batches_per_second(records, batch_size, num=50), 1),
            "pipeline_batches_per_sec_from_array_record_prefetch4": round(
                pipeline_batches_per_second(records, batch_size, num=50, prefetch=4), 1),
            "train_steps_per_sec_synthetic": round(synthetic, 1),
            "train_steps_per_sec_real_data": round(real, 1),
            "real_over_synthetic": round(real / synthetic, 3),
        }
        print(name, figures[name], flush=True)
    write("input_pipeline", {"description": " ".join(__doc__.split("\n\n")[0].split()), **figures})


if __name__ == "__main__":
    main()

"""Train-step time on 1 device vs 8 fake CPU devices (the same host), for small and larger MLPs.

    .venv/bin/python benchmarks/train_step.py          # writes benchmarks/results/train_step.json

Each device count runs in its own process (XLA_FLAGS must be set before JAX starts). On a 2-core CPU
the 8 fake devices share the same 2 cores, so this measures the cost of the sharded program
(partitioning, collectives) rather than a speed-up; on a GPU/TPU host the same code scales out.
"""
import json
import os
import subprocess
import sys

# XLA:CPU's fake devices can deadlock in a collective when too many sharded steps are in flight
# (seen here with jax 0.10.2: an all-reduce waits 40 s for its 8th thread, then aborts); the trainer
# syncs at each log step, and the benchmark every few steps, as it would.
SYNC_EVERY = 10

CASES = [  # (name, model kwargs, input shape, global batch)
    ("mnist1d_mlp_100", dict(depth=2, width=100), (40,), 128),
    ("mlp_1024", dict(depth=2, width=1024), (784,), 512),
    ("mlp_2048", dict(depth=2, width=2048), (784,), 1024),
]


def child(num_devices: int):
    import jax  # noqa: PLC0415  (after XLA_FLAGS)
    from deepzoo import config as config_lib  # noqa: PLC0415
    from deepzoo.train import sharding  # noqa: PLC0415
    sys.path.insert(0, os.path.dirname(__file__))
    from common import build, random_batch, steps_per_second  # noqa: PLC0415

    mesh = sharding.make_mesh(jax.devices()[:num_devices])
    figures = {}
    for name, kwargs, shape, batch_size in CASES:
        config = config_lib.load("configs/mnist1d_mlp.py", **{f"model.kwargs.{k}": v for k, v in kwargs.items()})
        batch = random_batch(batch_size, shape)
        state, step = build(config, batch["input"][:1], mesh)
        device_batch = sharding.global_batch(batch, mesh)
        holder = [state]

        def run(n):
            for i in range(n):
                holder[0], metrics = step(holder[0], device_batch)
                if i % SYNC_EVERY == SYNC_EVERY - 1:
                    jax.block_until_ready(metrics)
            jax.block_until_ready(metrics)

        n = 200 if batch_size <= 128 else 10
        rate = steps_per_second(run, n)
        figures[name] = {"batch": batch_size, "steps_per_sec": round(rate, 1),
                         "ms_per_step": round(1000 / rate, 3)}
        print(name, figures[name], file=sys.stderr, flush=True)
    print("RESULT " + json.dumps(figures))


def main():
    sys.path.insert(0, os.path.dirname(__file__))
    from common import write  # noqa: PLC0415
    results = {}
    for devices in (1, 8):
        env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
               "JAX_PLATFORMS": "cpu"}
        out = subprocess.run([sys.executable, __file__, "--child", str(devices)], env=env,
                             capture_output=True, text=True, check=True).stdout
        results[f"{devices}_devices"] = json.loads(out.split("RESULT ", 1)[1])
        print(devices, "devices:", results[f"{devices}_devices"], flush=True)
    write("train_step", {"description": " ".join(__doc__.split("\n\n")[0].split()), **results})


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(int(sys.argv[2]))
    else:
        main()

"""What one accelerator does with deepzoo, in under 8 minutes: run it whenever a GPU (or TPU) is at hand.

    .venv/bin/pip install -U "jax[cuda12]"     # once, on the GPU machine
    .venv/bin/python benchmarks/gpu.py          # writes benchmarks/results/gpu.json
    .venv/bin/python benchmarks/gpu.py --smoke  # tiny sizes: checks the script on a CPU in a minute

Measured, each once compiled (best of 3 timings of --steps train steps):
  resnet50     images/s of a bf16 ResNet-50 train step (SGD with momentum) at the largest of --resnet_batches that fits
  mfu          model FLOPs utilisation (deepzoo/train/flops.py: 3 forwards of 2 FLOPs per multiply-accumulate over
               the datasheet peak at bf16) of Transformer-base (batch 64 x 2 x 128 tokens), GPT-2 small and medium
               (batch 16 x 1,024 tokens), bf16 compute, Adam
  sweep        48 MNIST-1D MLP trials trained together (vmapped, one program) against one of them alone, 20 epochs
  ppo          CartPole env steps/s of whole PPO iterations (rollouts and updates) for 1, 64 and 2,048 seeds
Targets (issue: speed): ResNet-50 >= 3,000 images/s, GPT-2 medium >= 40% MFU on one H100/H200.
"""
import argparse
import os
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import write  # noqa: E402

from deepzoo import config as config_lib  # noqa: E402
from deepzoo import models, tasks  # noqa: E402
from deepzoo.rl.agents import make_agent  # noqa: E402
from deepzoo.train import flops  # noqa: E402
from deepzoo.train import sweep as sweep_lib  # noqa: E402
from deepzoo.train.state import create_train_state  # noqa: E402
from deepzoo.train.step import make_train_step  # noqa: E402


def best_time(run, repeats: int = 3) -> float:
    run()                                                  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def train_rate(model, task, tx, batch, steps: int) -> tuple[float, float]:
    """(train steps per second, model FLOPs of one step) of the generic train step on `batch`."""
    batch = jax.device_put(batch)
    state = jax.jit(lambda: create_train_state(model, tx, task.inputs(batch), seed=0))()
    step = jax.jit(make_train_step(model, task, tx, seed=0), donate_argnums=0)
    holder = [state]

    def run():
        for _ in range(steps):
            holder[0], metrics = step(holder[0], batch)
        jax.block_until_ready(metrics)

    rate = steps / best_time(run)
    variables = {"params": holder[0].params, **holder[0].model_state}
    return rate, flops.model_flops(model, variables, task.inputs(batch))


def resnet50(batches, size: int, steps: int) -> dict:
    """images/s at the largest batch that fits (tried from the largest down)."""
    model = models.get("resnet50", dtype=jnp.bfloat16, num_classes=1000)
    for batch_size in sorted(batches, reverse=True):
        rng = np.random.default_rng(0)
        batch = {"input": rng.normal(size=(batch_size, size, size, 3)).astype(np.float32),
                 "label": rng.integers(0, 1000, batch_size).astype(np.int32)}
        try:
            rate, _ = train_rate(model, tasks.get("classification"), optax.sgd(0.1, momentum=0.9), batch, steps)
        except Exception as e:   # XLA's out-of-memory is a RuntimeError/XlaRuntimeError: try a smaller batch
            if "RESOURCE_EXHAUSTED" not in str(e) and "out of memory" not in str(e).lower():
                raise
            print(f"resnet50: batch {batch_size} does not fit", flush=True)
            continue
        return {"batch": batch_size, "image_size": size, "images_per_sec": round(rate * batch_size, 1)}
    return {"error": f"no batch of {sorted(batches)} fits"}


def mfu(name, kwargs, task_name, batch, steps: int) -> dict:
    model = models.get(name, dtype=jnp.bfloat16, **kwargs)
    rate, model_count = train_rate(model, tasks.get(task_name), optax.adam(1e-4), batch, steps)
    peak = flops.peak_flops("bfloat16")
    return {"steps_per_sec": round(rate, 3), "model_tflops_per_step": round(model_count / 1e12, 3),
            "mfu": round(model_count * rate / peak, 4), "peak_tflops": round(peak / 1e12, 1)}


def sweep(trials: int, epochs: int) -> dict:
    """Seconds (compiling included) of `trials` vmapped MNIST-1D trials (the sweep's one program) against one trial
    alone, and the speed-up: trials x one trial's time / all trials' time."""
    figures = {}
    for n in (1, trials):
        config = config_lib.load("configs/double_descent.py:mlp")
        config.update(num_epochs=epochs, log_every_epochs=epochs, eval_every_epochs=epochs,
                      checkpoint_every_epochs=epochs)
        config.sweep.axes.model.kwargs.width = (100,)
        config.sweep.axes.dataset.label_noise = (0.15,)
        config.sweep.axes.seed = tuple(range(n))
        with tempfile.TemporaryDirectory() as workdir:
            start = time.perf_counter()
            sweep_lib.run_sweep(config, workdir)
            figures[n] = time.perf_counter() - start
    return {"trials": trials, "epochs": epochs, "seconds_one_trial": round(figures[1], 1),
            "seconds_all_trials": round(figures[trials], 1), "speedup": round(trials * figures[1] / figures[trials], 1)}


def ppo(seeds_list, iterations: int) -> dict:
    config = config_lib.load("configs/classic_control.py:cartpole,ppo")
    agent = make_agent(config)
    out = {}
    for seeds in seeds_list:
        states = jax.jit(jax.vmap(agent.init))(jax.random.split(jax.random.key(0), seeds))
        run = jax.jit(jax.vmap(lambda s: jax.lax.scan(agent.step, s, None, length=iterations)[0]))
        seconds = best_time(lambda: jax.block_until_ready(run(states)))
        out[seeds] = round(seeds * iterations * agent.env_steps_per_iteration / seconds)
    return {"env_steps_per_sec": out, "iterations": iterations}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script on a CPU")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--resnet_batches", default="128,256,512")
    args = parser.parse_args()
    smoke, steps = args.smoke, 2 if args.smoke else args.steps
    rng = np.random.default_rng(0)
    tokens = lambda b, t, v: rng.integers(3, v, (b, t)).astype(np.int32)
    gpt_len, gpt_batch = (64, 2) if smoke else (1024, 16)
    tr_len, tr_batch = (16, 2) if smoke else (128, 64)
    gpt_small = {"max_length": gpt_len} if smoke else {}
    figures = {"device": jax.devices()[0].device_kind, "device_count": jax.device_count()}
    print(figures, flush=True)
    figures["resnet50"] = resnet50([2] if smoke else [int(b) for b in args.resnet_batches.split(",")],
                                   64 if smoke else 224, steps)
    print("resnet50", figures["resnet50"], flush=True)
    figures["mfu"] = {}
    for name, kwargs in [("gpt2", gpt_small), ("gpt2_medium", gpt_small)]:
        if smoke:
            kwargs = {**kwargs, "num_layers": 2}
        figures["mfu"][name] = mfu(name, {**kwargs, "dropout_rate": 0.0}, "language_model",
                                   {"tokens": tokens(gpt_batch, gpt_len + 1, 50257)}, steps)
        print(name, figures["mfu"][name], flush=True)
    figures["mfu"]["transformer_base"] = mfu(
        "transformer_base", {"encoder_layers": 1, "decoder_layers": 1} if smoke else {}, "seq2seq",
        {"source": tokens(tr_batch, tr_len, 37000), "target": tokens(tr_batch, tr_len, 37000)}, steps)
    print("transformer_base", figures["mfu"]["transformer_base"], flush=True)
    figures["sweep"] = sweep(4 if smoke else 48, 1 if smoke else 20)
    print("sweep", figures["sweep"], flush=True)
    figures["ppo"] = ppo((1, 4) if smoke else (1, 64, 2048), 2 if smoke else 8)
    print("ppo", figures["ppo"], flush=True)
    if not smoke:
        write("gpu", figures)


if __name__ == "__main__":
    main()

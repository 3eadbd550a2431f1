"""train_and_evaluate(config, workdir): the one training loop.

    data -> global batch -> jitted train_step (state replicated and donated, batch sharded on `data`)
         -> metrics (TensorBoard + JSONL + progress line) -> periodic eval -> checkpoint
A run started on a workdir that holds a checkpoint resumes from it: same batches, same dropout masks,
bitwise the same parameters as an uninterrupted run.
"""
import contextlib
import functools
import json
import signal
import threading

import jax
import numpy as np
from absl import logging
from jax.experimental import multihost_utils

from deepzoo import data, models, tasks
from deepzoo.tasks import metrics as metrics_lib
from deepzoo.train import files, flops, optim, sharding
from deepzoo.train.checkpoint import Checkpoints, warm_start
from deepzoo.train.state import create_train_state
from deepzoo.train.step import make_eval_step, make_train_step
from deepzoo.train.writers import MetricWriter, Progress, plot_learning_curves


# Steps dispatched ahead of the device. Bounded: queued batches hold memory, and XLA:CPU's fake
# devices can deadlock in a collective with many sharded steps in flight (seen with jax 0.10.2).
_MAX_IN_FLIGHT = 4
# With several processes, how often (in steps) they agree on whether a stop signal arrived.
_STOP_SYNC_EVERY = 10


class NonFiniteError(FloatingPointError):
    """The loss, the gradients or the update became NaN or Inf."""


class Stopped(Exception):
    """A signal stopped the run before its last step; its checkpoint is saved and the same command resumes it.
    Raised (after the checkpoint, metrics and results.json are written) so that no caller takes a part-run for
    a finished one."""


class StopSignal(contextlib.AbstractContextManager):
    """SIGTERM/SIGINT ask the loop to checkpoint and stop; a second SIGINT interrupts at once."""

    def __init__(self):
        self.received = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
        logging.warning("%s received: saving a checkpoint and stopping.", self.received)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def requested(self, sync: bool) -> bool:
        """Whether to stop now; with sync, every process learns whether any process was signalled."""
        if jax.process_count() == 1:
            return self.received is not None
        if not sync:
            return False
        flags = multihost_utils.process_allgather(np.array(self.received is not None))
        return bool(np.any(flags))


def _check_config(config, mesh):
    """Fails before any work, naming the field and the fix."""
    for field in ("num_train_steps", "batch_size", "eval_batch_size", "grad_accum_steps",
                  "log_every_steps", "checkpoint_every_steps", "keep_checkpoints"):
        if not isinstance(config[field], int) or config[field] < 1:
            raise ValueError(f"config.{field}={config[field]!r} must be a whole number >= 1.")
    if config.eval_every_steps < 0:
        raise ValueError(f"config.eval_every_steps={config.eval_every_steps} must be >= 0 (0: only "
                         f"at the end).")
    if not 0.0 <= config.ema_decay < 1.0:
        raise ValueError(f"config.ema_decay={config.ema_decay} must be in [0, 1) (0 disables the EMA; "
                         f"0.999 is typical).")
    devices, accum = mesh.devices.size, config.grad_accum_steps
    micro = config.batch_size // accum
    if config.batch_size % accum or micro % devices:
        raise ValueError(
            f"config.batch_size={config.batch_size} with grad_accum_steps={accum} does not give "
            f"microbatches that split evenly over the {devices} devices of the mesh: make batch_size a "
            f"multiple of grad_accum_steps x devices = {accum * devices}.")
    if config.eval_batch_size % devices:
        raise ValueError(f"config.eval_batch_size={config.eval_batch_size} is not a multiple of the "
                         f"{devices} devices; use a multiple of {devices}.")


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in _flatten(value, f"{prefix}{key}.").items()}
    return {prefix[:-1]: tree}


def _config_changes(workdir, config) -> str:
    """What differs between the workdir's config.json and `config`, as a sentence to append to an error
    (e.g. "model.kwargs.latent_dim 20 -> 10"); "" when nothing does or there is no saved config."""
    saved = workdir / "config.json"
    if not saved.exists():
        return ""
    before, now = _flatten(json.loads(saved.read_text())), _flatten(json.loads(config.to_json_best_effort()))
    changed = [f"{k} {before.get(k)!r} -> {now.get(k)!r}" for k in sorted(set(before) | set(now))
               if before.get(k) != now.get(k)]
    return f" Changed since the checkpoint was written: {'; '.join(changed)}." if changed else ""


def evaluate(eval_step, state, source, batch_size, mesh) -> dict[str, float]:
    total = None
    for batch in data.eval_batches(source, global_batch_size=batch_size):
        m = eval_step(state, sharding.global_batch(batch, mesh))
        total = m if total is None else metrics_lib.add(total, m)
    return metrics_lib.means(sharding.to_host(total))


def _summarise(history, first_step) -> dict[str, float]:
    """Means over the steps in `history` (per-step metrics on device, the first one `first_step`);
    raises NonFiniteError naming the first step whose loss or gradients were not finite."""
    fetched = sharding.to_host(history)
    for step, m in enumerate(fetched, first_step):
        for quantity in ("loss", "grads", "update"):
            if m[f"nonfinite_{quantity}"][0] > 0:
                raise NonFiniteError(f"non-finite {quantity} at step {step}")
    total = functools.reduce(lambda a, b: jax.tree.map(np.add, a, b), fetched)
    return {k: v for k, v in metrics_lib.means(total).items() if not k.startswith("nonfinite")}


def train_and_evaluate(config, workdir) -> dict[str, float]:
    """Trains config.model on config.dataset with config.task; returns the final metrics.
    `workdir` is a local path or a bucket URL (gs://...)."""
    workdir = files.path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    mesh = sharding.make_mesh()
    _check_config(config, mesh)
    replicated, num_steps = sharding.replicated(mesh), config.num_train_steps

    ds = config.dataset
    # Optional fields: image_size > 0 crops images of any size (ImageNet); text datasets need max_length
    # (and vocab_size, languages for SentencePiece translation).
    # classes: a subset of the labels, relabelled 0..k-1 in both splits; train_examples: a small,
    # class-balanced training set drawn with subset_seed (data/sources.py, select).
    options = {k: ds[k] for k in ("image_size", "max_length", "vocab_size", "languages", "classes") if k in ds}
    train_source = data.load(ds.name, ds.train_split, data_dir=ds.data_dir, cache=ds.cache, augment=True,
                             num_examples=ds.get("train_examples", 0), seed=ds.get("subset_seed", 0), **options)
    eval_source = data.load(ds.name, ds.eval_split, data_dir=ds.data_dir, cache=ds.cache,
                            **options) if ds.eval_split else None
    if eval_source is not None and len(eval_source) == 0:
        raise ValueError(f"the eval split {ds.eval_split!r} of {ds.name!r} is empty; set "
                         f"--config.dataset.eval_split to another split, or to '' for no evaluation.")
    model = models.get(config.model.name, **config.model.kwargs)
    task = tasks.get(config.task.name, **config.task.kwargs)
    tx, learning_rate = optim.create(config.optimizer, num_steps)

    example = task.inputs(train_source.read(np.arange(1)))
    init = lambda: create_train_state(model, tx, example, seed=config.seed, ema=config.ema_decay > 0,
                                      players=getattr(task, "players", ()))
    shapes = jax.eval_shape(init)
    # The output's shape, or a dict of shapes for models with several outputs (autoencoders, VAE).
    output = jax.eval_shape(lambda s: model.apply({"params": s.params, **s.model_state}, *example), shapes)
    task.validate(jax.tree.map(lambda a: a.shape, output),
                  train_source, f"{config.model.name} (config.model)")
    state_sharding = jax.tree.map(lambda _: replicated, shapes)

    checkpoints = Checkpoints(workdir / "checkpoints", max_to_keep=config.keep_checkpoints)
    try:
        state = checkpoints.restore(jax.tree.map(
            lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh), shapes, state_sharding))
    except ValueError as e:
        raise ValueError(f"{e}{_config_changes(workdir, config)}") from e
    if state is None:
        state = jax.jit(init, out_shardings=state_sharding)()
        if config.get("init_from") and config.init_from.workdir:  # transfer: part of another run's weights
            state = warm_start(state, config.init_from.workdir, tuple(config.init_from.layers))
            logging.info("Layers %s start from the run in %s.", ", ".join(config.init_from.layers),
                         config.init_from.workdir)
    start = int(sharding.to_host(state.step))
    if start > num_steps:
        raise ValueError(f"{workdir} holds a checkpoint at step {start}, past config.num_train_steps="
                         f"{num_steps}: raise num_train_steps to continue it, or use a new --workdir.")
    if jax.process_index() == 0:  # each launch's config, the first one kept as config.json
        name = "config.json" if start == 0 else f"config.resumed_at_{start}.json"
        (workdir / name).write_text(config.to_json_best_effort(indent=2))
    logging.info("%s at step %d of %d on %d devices (%d processes); workdir %s.",
                 "Resuming" if start else "Starting", start, num_steps, mesh.devices.size,
                 jax.process_count(), workdir)

    train_step = jax.jit(
        make_train_step(model, task, tx, seed=config.seed, grad_accum_steps=config.grad_accum_steps,
                        ema_decay=config.ema_decay),
        in_shardings=(state_sharding, sharding.batch_sharded(mesh)),
        out_shardings=(state_sharding, replicated), donate_argnums=0)
    eval_steps = {"": jax.jit(make_eval_step(model, task), out_shardings=replicated)}
    if config.ema_decay > 0:
        eval_steps["ema_"] = jax.jit(make_eval_step(model, task, use_ema=True), out_shardings=replicated)

    batches = data.train_batches(train_source, global_batch_size=config.batch_size, seed=config.seed,
                                 start_step=start, num_steps=num_steps - start, prefetch=ds.prefetch,
                                 threads=ds.get("threads", 1))
    writer = MetricWriter(workdir, resume_step=start)
    progress = Progress(start, num_steps)
    if config.get("log_mfu", False):  # model FLOPs utilisation in the progress line and the metrics
        local_rows = np.arange(config.batch_size // jax.process_count())
        example_batch = sharding.global_batch(train_source.read(local_rows), mesh)
        progress = Progress(start, num_steps, flops.step_flops(train_step, state, example_batch), flops.matmul_peak())
        logging.info("A train step does %.3g FLOPs; this machine's measured matmul peak is %.3g FLOP/s.",
                     progress.step_flops, progress.peak_flops)

    def run_evals(state, step, write=True):
        results = {}
        for prefix, eval_step in eval_steps.items() if eval_source is not None else ():
            values = evaluate(eval_step, state, eval_source, config.eval_batch_size, mesh)
            values = {prefix + k: v for k, v in values.items()}
            if write:
                writer.write(step, ds.eval_split, values)
            logging.info("eval %s at step %d: %s", ds.eval_split, step,
                         " | ".join(f"{k} {v:.4f}" for k, v in values.items()))
            results.update({f"{ds.eval_split}_{k}": v for k, v in values.items()})
        writer.flush()
        return results

    history, results, step, stopping = [], {}, start, False
    if start == num_steps:  # a finished run: evaluate it again, train nothing
        results = run_evals(state, step, write=False)
    try:
        with StopSignal() as stop:
            for step in range(start + 1, num_steps + 1):  # `step` counts updates done
                state, metrics = train_step(state, sharding.global_batch(next(batches), mesh))
                if len(history) >= _MAX_IN_FLIGHT:
                    jax.block_until_ready(history[-_MAX_IN_FLIGHT])
                history.append(metrics)
                log_now = step % config.log_every_steps == 0
                stopping = stop.requested(sync=step % _STOP_SYNC_EVERY == 0 or log_now)
                save_now = step == num_steps or stopping or step % config.checkpoint_every_steps == 0
                if log_now or save_now:  # fetching metrics is a sync point: only every few steps
                    try:
                        results = _summarise(history, first_step=step - len(history) + 1)
                    except NonFiniteError as e:
                        raise NonFiniteError(f"{e}; training stopped. The last good checkpoint is kept "
                                             f"in {checkpoints.directory} (steps {checkpoints.steps()}). "
                                             f"Lower the learning rate or set "
                                             f"--config.optimizer.grad_clip_norm.") from None
                    history = []
                    results["steps_per_sec"] = progress(step, results)
                    if progress.mfu(results["steps_per_sec"]) is not None:
                        results["mfu"] = progress.mfu(results["steps_per_sec"])
                    results["learning_rate"] = float(learning_rate(step - 1))
                    writer.write(step, "train", results)
                    writer.flush()
                if step == num_steps or (config.eval_every_steps and step % config.eval_every_steps == 0):
                    results.update(run_evals(state, step))
                if save_now:
                    checkpoints.save(step, state)
                if stopping:
                    break
    finally:
        checkpoints.wait()
        checkpoints.close()
        writer.close()
    if jax.process_index() == 0:
        plot_learning_curves(workdir)
        files.write_json(workdir / "results.json", {"step": step, **results})
    if stopping:
        raise Stopped(f"stopped by a signal at step {step} of {num_steps}; the checkpoint is in "
                      f"{checkpoints.directory}: rerun the same command to resume.")
    return results

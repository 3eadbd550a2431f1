"""Orbax checkpoints in <workdir>/checkpoints: saved periodically, on a stop signal and at the end.
Restoring takes the newest one that reads back; a damaged newer one is reported and moved aside to
<workdir>/checkpoints_damaged/<step> (kept for inspection, never overwritten by the rerun)."""
import logging as std_logging

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from flax import traverse_util
from jax.experimental import multihost_utils

from deepzoo.train import files
from deepzoo.train.optim import in_layer


def _drop_orbax_info(record):
    return record.levelno >= std_logging.WARNING or "/orbax/" not in record.pathname


def quiet_orbax_logs():
    """Orbax logs every save step by step at INFO: keep its warnings, drop the chatter (idempotent)."""
    logging.get_absl_logger().addFilter(_drop_orbax_info)


def _manager(directory, max_to_keep: int | None = None) -> ocp.CheckpointManager:
    """The one place that opens an Orbax manager: for a run's writes (max_to_keep) and for reads."""
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True) if max_to_keep else None
    return ocp.CheckpointManager(files.path(directory), item_handlers=ocp.StandardCheckpointHandler(),
                                 options=options)


class Checkpoints:

    def __init__(self, directory: str, *, max_to_keep: int = 3):
        self.directory = files.path(directory)
        self.manager = _manager(self.directory, max_to_keep)

    def steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def save(self, step: int, state):
        if step not in self.manager.all_steps():
            self.manager.save(step, args=ocp.args.StandardSave(state))

    def restore(self, abstract_state):
        """(step, state) of the newest checkpoint that every process reads, restored onto
        `abstract_state`'s shardings; (0, None) if there is none. Raises if checkpoints exist but none fits the state
        (more likely a changed config than damage: then nothing is moved)."""
        errors = []
        for step in reversed(self.steps()):
            try:
                state, error = self.manager.restore(step, args=ocp.args.StandardRestore(abstract_state)), None
            except Exception as e:  # noqa: BLE001  a damaged checkpoint: say so, fall back
                state, error = None, e
            if jax.process_count() > 1:  # all processes must resume from the same step
                if not multihost_utils.process_allgather(np.array(error is None)).all():
                    error = error or RuntimeError("another process could not read it")
            if error is None:
                for bad_step, _ in errors:  # only now is it clear that those were damaged
                    self._move_aside(bad_step)
                return step, state
            logging.warning("Checkpoint at step %d in %s cannot be read (%s: %s); trying the "
                            "previous one.", step, self.directory, type(error).__name__, error)
            errors.append((step, error))
        if errors:
            step, error = errors[-1]
            raise ValueError(f"no checkpoint in {self.directory} fits this run's state (the oldest, step "
                             f"{step}, failed with {type(error).__name__}: {error}). If the config "
                             f"changed, start in a new --workdir.") from error
        return 0, None

    def _move_aside(self, step: int):
        if jax.process_index() == 0:
            target = self.directory.parent / f"{self.directory.name}_damaged" / str(step)
            if target.exists():
                target.rmtree()
            target.parent.mkdir(parents=True, exist_ok=True)
            (self.directory / str(step)).rename(target)
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices(f"checkpoint {step} moved aside")
        self.manager.reload()

    def wait(self):
        self.manager.wait_until_finished()

    def close(self):
        self.manager.close()


def load_arrays(directory: str, step: int | None = None):
    """A checkpoint as a plain tree of arrays on one device, whatever topology saved it: for
    analysis, comparing runs, or reusing part of another run's parameters. Newest step by default."""
    manager = _manager(directory)
    step = manager.latest_step() if step is None else step
    if step is None:
        raise FileNotFoundError(f"no checkpoint in {directory}.")
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device),
                          manager.item_metadata(step))
    try:
        return manager.restore(step, args=ocp.args.StandardRestore(target))
    finally:
        manager.close()


def load_variables(workdir, step: int | None = None, *, ema: bool = False) -> dict:
    """The Flax variables ({"params": ..., "batch_stats": ...}) a run in `workdir` saved, ready for
    `model.apply(variables, ...)`: how experiments evaluate and decode a trained model."""
    state = load_arrays(str(files.path(workdir) / "checkpoints"), step)
    params = state.get("ema_params") if ema else state["params"]
    if params is None:
        raise ValueError(f"the run in {workdir} kept no EMA of its parameters (config.ema_decay was 0).")
    return {"params": params, **(state.get("model_state") or {})}


def warm_start(state, workdir, layers):
    """`state` with the parameters of `layers` (paths such as "c1" or "bert/layer1", and every parameter
    below them), their BatchNorm statistics and their EMA taken from the newest checkpoint of the run in
    `workdir`: transfer learning. The other parameters and the optimizer state stay as initialised."""
    saved = load_arrays(str(files.path(workdir) / "checkpoints"))
    flat = lambda tree: traverse_util.flatten_dict(tree, sep="/")
    sources = {"params": saved["params"], **(saved.get("model_state") or {})}
    targets = {"params": state.params, **state.model_state}
    unmatched = [layer for layer in layers if not any(in_layer(k, layer) for k in flat(state.params))]
    if unmatched:
        raise ValueError(f"config.init_from.layers names {unmatched}, which this model does not have; its "
                         f"layers are {sorted({k.split('/')[0] for k in flat(state.params)})}.")
    replaced = {}
    for collection, target in targets.items():
        old, new = flat(target), flat(sources.get(collection, {}))
        for key in [k for k in old if any(in_layer(k, layer) for layer in layers)]:
            if key not in new:
                raise ValueError(f"the checkpoint in {workdir} has no {collection} {key!r} to start from; its "
                                 f"layers are {sorted({k.split('/')[0] for k in new})}.")
            if new[key].shape != old[key].shape:
                raise ValueError(f"{collection} {key!r} has shape {tuple(new[key].shape)} in {workdir} but "
                                 f"{tuple(old[key].shape)} in this model; leave that layer out of "
                                 f"config.init_from.layers (it then starts fresh).")
            old[key] = jax.device_put(new[key].astype(old[key].dtype), old[key].sharding)
        replaced[collection] = traverse_util.unflatten_dict(old, sep="/")
    params = replaced.pop("params")
    return state.replace(params=params, model_state=replaced,
                         ema_params=None if state.ema_params is None else params)


def average_variables(workdir, last: int) -> dict:
    """The mean of the parameters that the last `last` checkpoints of `workdir` hold, with the newest
    one's other collections: checkpoint averaging (Vaswani et al. 2017 averaged the last 5 checkpoints,
    written every 10 minutes, for base models and the last 20 for big ones). Keep that many with
    config.keep_checkpoints."""
    directory = str(files.path(workdir) / "checkpoints")
    manager = _manager(directory)
    steps = sorted(manager.all_steps())
    manager.close()
    if last < 1 or len(steps) < last:
        raise ValueError(f"averaging the last {last} checkpoints of {workdir} needs that many; it has "
                         f"{len(steps)} (steps {steps}). Train with config.keep_checkpoints >= {last}.")
    newest = load_variables(workdir, steps[-1])
    wide = lambda tree: jax.tree.map(lambda x: np.asarray(x, np.float64), tree)  # sum without rounding
    total = wide(newest["params"])
    for step in steps[-last:-1]:
        total = jax.tree.map(np.add, total, wide(load_variables(workdir, step)["params"]))
    mean = jax.tree.map(lambda t, x: jnp.asarray(t / last, x.dtype), total, newest["params"])
    return {**newest, "params": mean}

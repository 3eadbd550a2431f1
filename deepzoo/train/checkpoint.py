"""Orbax checkpoints in <workdir>/checkpoints: saved periodically, on a stop signal and at the end.

Restoring takes the newest step that reads back. Each step is one of:
    readable      restored;
    damaged       unreadable for good (an empty step directory from a save killed after mkdir, truncated or
                  missing files, garbage metadata): reported, and once an older step restores, moved aside to
                  <workdir>/checkpoints_damaged/<step> (a step damaged again goes to <step>.1, <step>.2, ...);
    another state the arrays' names or shapes differ from this run's state: the config changed. Nothing is
                  moved; the error names the differences.
A read error that may pass (a network file system or a bucket failing for a moment) is retried a few
times with a pause; if it persists the restore fails and nothing is moved.
"""
import errno
import fnmatch
import logging as std_logging
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from flax import serialization, traverse_util
from jax.experimental import multihost_utils

from deepzoo.train import files
from deepzoo.train.optim import in_layer

_READ_TRIES = 3
_RETRY_PAUSE_S = 2.0    # doubled after each failed try
# Errors of storage that may be back in a moment; any other error reading a step means it is damaged.
_TRANSIENT_ERRNOS = {errno.EIO, errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.ECONNRESET, errno.ECONNREFUSED,
                     errno.ECONNABORTED, errno.ENETDOWN, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ESTALE}
_TRANSIENT_CODES = ("UNAVAILABLE", "DEADLINE_EXCEEDED")   # TensorStore's status codes for the same


def _drop_orbax_info(record):
    return record.levelno >= std_logging.WARNING or "/orbax/" not in record.pathname


def _from_orbax(error) -> bool:
    """Whether an exception was raised in Orbax's code (or caused by an exception that was)."""
    while error is not None:
        tb = error.__traceback__
        while tb is not None:
            if "/orbax/" in tb.tb_frame.f_code.co_filename:
                return True
            tb = tb.tb_next
        error = error.__cause__ or error.__context__
    return False


def _drop_orbax_read_errors(record):
    """asyncio reports the reads that a failed Orbax restore left behind when they are collected."""
    return not ("never retrieved" in record.getMessage() and record.exc_info and _from_orbax(record.exc_info[1]))


def _closed_loop(error) -> bool:   # Orbax's event loop, closed when a restore failed
    return isinstance(error, RuntimeError) and str(error) == "Event loop is closed"


def _quiet_failed_reads(hook):
    """The reads that a failed restore leaves behind end in TensorStore's threads, which report it through
    sys.unraisablehook: a damaged checkpoint, already reported in one line, would print dozens of tracebacks."""
    def unraisablehook(unraisable):
        code = getattr(unraisable.object, "cr_code", None)   # a coroutine of Orbax's, collected unfinished
        if not (_closed_loop(unraisable.exc_value) or _from_orbax(unraisable.exc_value)
                or "/orbax/" in getattr(code, "co_filename", "")):
            hook(unraisable)
    unraisablehook.quiet_failed_reads = True
    return unraisablehook


def quiet_orbax_logs():
    """Orbax logs every save step by step at INFO: keep its warnings, drop the chatter, and the noise of a
    damaged checkpoint's failed read (idempotent)."""
    logging.get_absl_logger().addFilter(_drop_orbax_info)
    std_logging.getLogger("asyncio").addFilter(_drop_orbax_read_errors)
    if not getattr(sys.unraisablehook, "quiet_failed_reads", False):
        sys.unraisablehook = _quiet_failed_reads(sys.unraisablehook)


def _manager(directory, max_to_keep: int | None = None) -> ocp.CheckpointManager:
    """The one place that opens an Orbax manager: for a run's writes (max_to_keep) and for reads."""
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True) if max_to_keep else None
    return ocp.CheckpointManager(files.path(directory), item_handlers=ocp.StandardCheckpointHandler(),
                                 options=options)


def _transient(error: Exception) -> bool:
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    if isinstance(error, OSError) and error.errno in _TRANSIENT_ERRNOS:
        return True
    return any(code in str(error) for code in _TRANSIENT_CODES)


def _short(error: Exception) -> str:
    """The first line of an error, without TensorStore's spec dumps."""
    text = str(error).split("\n")[0].split(" See full TensorStore details")[0]
    return f"{type(error).__name__}: {text[:300]}"


def _shapes(tree) -> dict[str, tuple]:
    """{"params/dense/kernel": shape} of a state or of a checkpoint's metadata, in one naming."""
    def name(key):
        return str(getattr(key, "key", getattr(key, "idx", getattr(key, "name", key))))
    def shape(leaf):  # a typed PRNG key is saved as its raw data, one trailing axis longer
        if jax.dtypes.issubdtype(getattr(leaf, "dtype", None), jax.dtypes.prng_key):
            return tuple(jax.eval_shape(jax.random.key_data, leaf).shape)
        return tuple(leaf.shape)
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {"/".join(map(name, path)): shape(leaf) for path, leaf in leaves}


def _differences(saved: dict, wanted: dict) -> list[str]:
    """The parameters' differences first: they say most about what changed."""
    saved = dict(sorted(saved.items(), key=lambda item: not item[0].startswith("params/")))
    return ([f"{k} {saved[k]} in the checkpoint, {wanted[k]} now" for k in saved if k in wanted and saved[k] != wanted[k]]
            + [f"{k} only in the checkpoint" for k in saved if k not in wanted]
            + [f"{k} only in this run" for k in wanted if k not in saved])


class OtherState(ValueError):
    """The checkpoints hold a state of other names or shapes: the config changed."""


class CheckpointReadError(OSError):
    """A checkpoint could not be read because of the storage, not the checkpoint: nothing was moved."""


class Checkpoints:
    """A run's Orbax checkpoints in `directory`, the newest max_to_keep kept; restore() takes the
    newest step that reads back (module docstring)."""

    def __init__(self, directory: str, *, max_to_keep: int = 3):
        self.directory = files.path(directory)
        self.manager = _manager(self.directory, max_to_keep)

    def steps(self) -> list[int]:
        """The saved steps, oldest first."""
        return sorted(self.manager.all_steps())

    def save(self, step: int, state):
        """Starts saving `state` as `step`, in the background (wait() blocks until it is written); a
        step already saved is left as it is."""
        if step not in self.manager.all_steps():
            self.manager.save(step, args=ocp.args.StandardSave(state))

    def _retrying(self, read, step: int):
        for attempt in range(_READ_TRIES):
            try:
                return read()
            except Exception as e:  # noqa: BLE001  sorted below: transient, or the step is damaged
                if not _transient(e):
                    raise
                if attempt == _READ_TRIES - 1:
                    raise CheckpointReadError(
                        f"could not read the checkpoint at step {step} in {self.directory} after {_READ_TRIES} "
                        f"tries ({_short(e)}); the storage may be unreachable. Nothing was moved: rerun when it "
                        f"is back.") from e
                pause = _RETRY_PAUSE_S * 2 ** attempt
                logging.warning("Reading the checkpoint at step %d failed (%s); trying again in %.0f s.", step,
                                _short(e), pause)
                time.sleep(pause)

    def _read(self, step: int, abstract_state, wanted: dict):
        """("ok", state) | ("damaged", why) | ("another state", differences)."""
        try:
            saved = _shapes(self._retrying(lambda: self.manager.item_metadata(step), step))
        except CheckpointReadError:
            raise
        except Exception as e:  # noqa: BLE001  no readable metadata: empty or garbled step
            return "damaged", _short(e)
        if not saved:
            return "damaged", "it holds no arrays"
        differences = _differences(saved, wanted)
        if differences:
            return "another state", differences
        try:
            return "ok", self._retrying(
                lambda: self.manager.restore(step, args=ocp.args.StandardRestore(abstract_state)), step)
        except CheckpointReadError:
            raise
        except Exception as e:  # noqa: BLE001  truncated or missing array files
            return "damaged", _short(e)

    def restore(self, abstract_state):
        """(step, state) of the newest checkpoint that every process reads, restored onto
        `abstract_state`'s shardings; (0, None) if there is none. Raises ValueError if checkpoints exist and
        none can be used (OtherState: they hold another state; or every one is damaged): then nothing is moved."""
        quiet_orbax_logs()
        wanted = _shapes(serialization.to_state_dict(abstract_state))
        damaged, misfit = [], None
        for step in reversed(self.steps()):
            outcome, value = self._read(step, abstract_state, wanted)
            if jax.process_count() > 1:  # all processes must resume from the same step
                kinds = ("ok", "damaged", "another state")
                worst = int(multihost_utils.process_allgather(np.array(kinds.index(outcome))).max())
                if worst != kinds.index(outcome):
                    outcome, value = kinds[worst], "another process could not use it"
            if outcome == "ok":
                for bad_step in damaged:  # only now is it clear that those were damaged, not misread
                    self._move_aside(bad_step)
                return step, value
            if outcome == "damaged":
                logging.warning("Checkpoint at step %d in %s is damaged (%s); trying the previous one.", step,
                                self.directory, value)
                damaged.append(step)
            elif misfit is None:
                misfit = step, value
        if misfit:
            step, differences = misfit
            shown = "; ".join(differences[:3]) + (f"; and {len(differences) - 3} more" if len(differences) > 3 else "")
            raise OtherState(f"the checkpoints in {self.directory} hold another state than this config builds "
                             f"(step {step}: {shown}): the config changed. Rerun with the config they were "
                             f"written with, or start this one in a new --workdir.")
        if damaged:
            raise ValueError(f"every checkpoint in {self.directory} is damaged (steps {sorted(damaged)}; see the "
                             f"warnings above). Move that folder aside to train from step 0, or use a new --workdir.")
        return 0, None

    def _move_aside(self, step: int):
        if jax.process_index() == 0:
            folder = self.directory.parent / f"{self.directory.name}_damaged"
            target, copy = folder / str(step), 0
            while target.exists():  # every damaged copy is kept
                copy += 1
                target = folder / f"{step}.{copy}"
            folder.mkdir(parents=True, exist_ok=True)
            (self.directory / str(step)).rename(target)
            logging.warning("Moved the damaged checkpoint at step %d to %s.", step, target)
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices(f"checkpoint {step} moved aside")
        self.manager.reload()

    def wait(self):
        """Blocks until the saves in progress are written."""
        self.manager.wait_until_finished()

    def close(self):
        """Waits for the saves in progress, then closes the Orbax manager."""
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
    return take_layers(state, {"params": saved["params"], **(saved.get("model_state") or {})}, layers,
                       f"the checkpoint in {workdir}")


def match_layers(params, layers) -> list[str]:
    """The layers of `params` that `layers` names: paths ("c1", "bert/layer1") or patterns of top-level names
    ("stage*"); an empty list or a name that matches nothing is an error."""
    paths = list(traverse_util.flatten_dict(params, sep="/"))
    tops = sorted({k.split("/")[0] for k in paths})
    matched, unmatched = [], []
    for layer in layers:
        hits = [layer] if any(in_layer(k, layer) for k in paths) else fnmatch.filter(tops, layer)
        matched += [h for h in hits if h not in matched]
        unmatched += [] if hits else [layer]
    if unmatched or not matched:
        raise ValueError(f"config.init_from.layers names {unmatched or 'no layer'}, which this model does not have; "
                         f"its layers are {tops} (patterns such as 'stage*' allowed).")
    return matched


def take_layers(state, variables, layers, origin: str):
    """`state` with `layers` (see match_layers) and their EMA from `variables` ({"params": ..., "batch_stats": ...},
    e.g. imported by deepzoo.weights), the rest as it is; `origin` names where the variables come from, for errors."""
    flat = lambda tree: traverse_util.flatten_dict(tree, sep="/")
    targets = {"params": state.params, **state.model_state}
    layers = match_layers(state.params, layers)
    replaced = {}
    for collection, target in targets.items():
        old, new = flat(target), flat(variables.get(collection, {}))
        for key in [k for k in old if any(in_layer(k, layer) for layer in layers)]:
            if key not in new:
                raise ValueError(f"{origin} has no {collection} {key!r} to start from; its "
                                 f"layers are {sorted({k.split('/')[0] for k in new})}.")
            if new[key].shape != old[key].shape:
                raise ValueError(f"{collection} {key!r} has shape {tuple(new[key].shape)} in {origin} but "
                                 f"{tuple(old[key].shape)} in this model; leave that layer out of "
                                 f"config.init_from.layers (it then starts fresh).")
            old[key] = jax.device_put(jnp.asarray(new[key], old[key].dtype), old[key].sharding)
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

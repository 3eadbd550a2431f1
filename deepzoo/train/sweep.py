"""Sweeps: one config, many trials, trained together in one compiled program where they can be.

    config.sweep = {name, width, label_noise, seed, train_size, epochs: lists (the axes), width_kwargs,
                    pad_widths, max_pad_ratio, eval_every_epochs, checkpoint_every_epochs, shard}
    run_sweep(config, workdir) -> rows          # python -m deepzoo.main does this when config.sweep is set

Each trial of the grid gets workdir/<sweep>/<trial>/ with its config.json, status.json and
metrics.jsonl (one record per evaluation); results.csv and curves.csv gather them. A trial whose status
is "done" is never rerun; a group interrupted midway resumes from its last checkpoint
(workdir/<sweep>/groups/<id>/) to the same result.

Trials that share their train size and epochs form a group, trained by one jitted program: the library's
train step (step.py) vmapped over the trials, every epoch a lax.scan over its steps. Seeds, label noise
and data subsets are plain arrays under vmap. Widths are batched too (pad_widths): each trial is
initialised as its own narrow network, then zero-padded to the group's widest one. The padding units
get no input (zero weights in) and give no output (zero weights out), so they stay zero and the
trial computes exactly what the narrow network does, initialisation scale included. That holds for
MLPs and CNNs with ReLU and BatchNorm; it is checked at the start (the outputs agree) and at the end
(the padding is still zero). LayerNorm, whose statistics see the padding, needs pad_widths=False.

A trial's result depends on its own seed only: initialisation, data subset, label noise, batch order
(permutation of fold_in(key(seed), epoch)) and dropout.
"""
import csv
import dataclasses
import hashlib
import itertools
import json
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging
from jax.sharding import NamedSharding, PartitionSpec as P

from deepzoo import data, models, tasks
from deepzoo.data import label_noise
from deepzoo.tasks import metrics as metrics_lib
from deepzoo.train import files, optim, sharding
from deepzoo.train.checkpoint import Checkpoints, quiet_orbax_logs
from deepzoo.train.state import create_train_state
from deepzoo.train.step import make_eval_step, make_train_step
from deepzoo.train.trainer import Stopped, StopSignal

AXES = ("width", "label_noise", "seed", "train_size", "epochs")


@dataclasses.dataclass(frozen=True, order=True)
class Trial:
    train_size: int
    epochs: int
    width: int
    label_noise: float
    seed: int

    @property
    def name(self) -> str:
        return f"w{self.width}_noise{self.label_noise:g}_n{self.train_size}_e{self.epochs}_seed{self.seed}"

    def row(self) -> dict:
        return {axis: getattr(self, axis) for axis in AXES}


def trials(sweep) -> list[Trial]:
    """The grid of the sweep's axes, in a fixed order."""
    for axis in AXES:
        if not sweep.get(axis):
            raise ValueError(f"config.sweep.{axis} must list at least one value (known axes: {', '.join(AXES)}).")
    return sorted(Trial(train_size=n, epochs=e, width=w, label_noise=p, seed=s) for w, p, s, n, e in
                  itertools.product(*(sweep[axis] for axis in AXES)))


def model_kwargs(config, width: int) -> dict:
    """config.model.kwargs with the width set: every field of sweep.width_kwargs becomes its multiplier
    (a number, or a tuple for per-stage widths) times `width`."""
    kwargs = config.model.kwargs.to_dict()
    for field, multiplier in config.sweep.width_kwargs.items():
        kwargs[field] = (tuple(int(m * width) for m in multiplier) if isinstance(multiplier, (tuple, list))
                         else int(multiplier * width))
    return kwargs


def trial_config(config, trial: Trial):
    """The config of one trial: the sweep's values set, the sweep itself left out."""
    c = ml_collections.ConfigDict(config.to_dict())
    del c["sweep"]
    c.seed = trial.seed
    c.model.kwargs = model_kwargs(config, trial.width)
    c.dataset.train_size, c.dataset.label_noise, c.num_epochs = trial.train_size, trial.label_noise, trial.epochs
    return c


def plan(config, todo: list[Trial]) -> list[list[Trial]]:
    """Groups of trials trained together: same train size and epochs; widths up to max_pad_ratio apart
    padded to the widest (or one width per group without pad_widths)."""
    sweep, groups = config.sweep, []
    for _, same in itertools.groupby(sorted(todo), key=lambda t: (t.train_size, t.epochs)):
        same = list(same)
        bucket = []
        for width in sorted({t.width for t in same}):
            if bucket and (not sweep.pad_widths or width > bucket[0] * sweep.max_pad_ratio):
                groups.append([t for t in same if t.width in bucket])
                bucket = []
            bucket.append(width)
        groups.append([t for t in same if t.width in bucket])
    if sweep.get("shard"):  # "i/n": this job runs every n-th group (job arrays, one slice per group)
        index, count = (int(v) for v in sweep.shard.split("/"))
        groups = groups[index::count]
    return groups


def _group_id(group: list[Trial]) -> str:
    return hashlib.sha1(" ".join(t.name for t in group).encode()).hexdigest()[:12]


# ---- padding a narrow network into a wide one ------------------------------------------------------

def pad_to(tree, shapes):
    """Zero-pads every leaf of `tree` to the shape of the matching leaf of `shapes` (its leading corner)."""
    def pad(x, s):
        if x.shape == s.shape:
            return x
        if x.ndim != len(s.shape) or any(a > b for a, b in zip(x.shape, s.shape)):
            raise ValueError(f"cannot pad a leaf of shape {x.shape} to {s.shape}: widths of this model do "
                             f"not nest; set config.sweep.pad_widths=False.")
        return jnp.zeros(s.shape, x.dtype).at[tuple(slice(0, n) for n in x.shape)].set(x)
    return jax.tree.map(pad, tree, shapes)


def unpad(tree, shapes):
    """The leading corner of every leaf: the narrow network inside a padded one."""
    return jax.tree.map(lambda x, s: x[tuple(slice(0, n) for n in s.shape)], tree, shapes)


def count_params(shapes) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)))


# ---- data held on the device -----------------------------------------------------------------------

def _arrays(config, split: str):
    ds = config.dataset
    options = {k: ds[k] for k in ("max_length", "vocab_size", "languages") if k in ds}
    source = data.load(ds.name, split, data_dir=ds.data_dir, cache=True, **options)
    if not isinstance(source, data.ArraySource):
        raise ValueError(f"a sweep holds {ds.name!r} in memory, but its {split!r} split is read record by "
                         f"record; sweeps need a dataset that fits in memory (config.dataset.cache=True).")
    return source


def _gather(arrays: dict, labels, index):
    """The batch of every trial: rows `index` (trials, rows) of the shared arrays, with each trial's own
    (noisy) labels."""
    batch = {k: v[index] for k, v in arrays.items()}
    if labels is not None:
        batch["label"] = jnp.take_along_axis(labels, index, axis=1)
    return batch


def _augment(batch, seeds, step, kind: str):
    """Random crops (4-pixel zero padding) and horizontal flips, drawn from each trial's seed and step:
    Nakkiran et al.'s CIFAR-10 augmentation, done on the device."""
    if not kind:
        return batch
    if kind != "crop_flip":
        raise ValueError(f"unknown config.sweep.augment={kind!r}; known: '' (none), 'crop_flip'.")

    def one(images, seed):
        key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 0xA06), step)
        k_crop, k_flip = jax.random.split(key)
        n, h, w, _ = images.shape
        padded = jnp.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)))
        offsets = jax.random.randint(k_crop, (n, 2), 0, 9)
        crop = jax.vmap(lambda im, o: jax.lax.dynamic_slice(im, (o[0], o[1], 0), (h, w, im.shape[-1])))
        images = crop(padded, offsets)
        flip = jax.random.bernoulli(k_flip, 0.5, (n, 1, 1, 1))
        return jnp.where(flip, images[:, :, ::-1], images)
    return {**batch, "input": jax.vmap(one)(batch["input"], seeds)}


# ---- one group -------------------------------------------------------------------------------------

class _Group:
    """The compiled programs and the stacked state of one group of trials."""

    def __init__(self, config, group, train, test, mesh):
        self.config, self.group = config, group
        self.n, self.epochs = group[0].train_size, group[0].epochs
        self.steps_per_epoch = self.n // config.batch_size
        if self.steps_per_epoch < 1:
            raise ValueError(f"train_size={self.n} is smaller than config.batch_size={config.batch_size}.")
        num_steps = self.epochs * self.steps_per_epoch
        self.task = tasks.get(config.task.name, **config.task.kwargs)
        self.tx, _ = optim.create(config.optimizer, num_steps)
        widest = max(t.width for t in group)
        self.model = models.get(config.model.name, **model_kwargs(config, widest))
        example = self.task.inputs(train.read(np.arange(2)))
        init = lambda model, seed: create_train_state(model, self.tx, example, seed=seed)
        self.shapes = jax.eval_shape(lambda seed: init(self.model, seed), 0)

        # Each trial starts as its own network, padded to the widest; checked to compute the same.
        states, self.narrow_shapes, self.params = {}, {}, {}
        for width in sorted({t.width for t in group}):
            narrow = models.get(config.model.name, **model_kwargs(config, width))
            narrow_init = jax.jit(lambda seed, narrow=narrow: init(narrow, seed))
            self.narrow_shapes[width] = jax.eval_shape(narrow_init, 0)
            self.params[width] = count_params(self.narrow_shapes[width].params)
            for t in (t for t in group if t.width == width):
                states[t] = narrow_init(t.seed)
            if width != widest:
                self._check_padding(narrow, states[next(t for t in group if t.width == width)], example,
                                    width, widest)
        self.state = jax.tree.map(lambda *xs: jnp.stack(xs), *(pad_to(states[t], self.shapes) for t in group))

        # Data on the device: shared inputs, each trial's labels and subset.
        self.train_arrays = {k: jnp.asarray(v) for k, v in train.arrays.items() if k != "label"}
        self.test_arrays = {k: jnp.asarray(v) for k, v in test.arrays.items() if k != "label"}
        has_labels = "label" in train.arrays
        if not has_labels and any(t.label_noise for t in group):
            raise ValueError(f"label_noise needs a dataset with labels; {config.dataset.name!r} has "
                             f"{sorted(train.arrays)}. Set config.sweep.label_noise=(0.0,).")
        subsets = [label_noise.subset(len(train), self.n, t.seed) for t in group]
        self.subsets = jnp.asarray(np.stack(subsets))
        self.labels = self.test_labels = None
        if has_labels:
            classes = train.num_classes or int(train.arrays["label"].max()) + 1
            self.labels = jnp.asarray(np.stack([
                label_noise.noisy_labels(train.arrays["label"], t.label_noise, classes, t.seed, s)
                for t, s in zip(group, subsets)]))
            self.test_labels = jnp.broadcast_to(jnp.asarray(test.arrays["label"]), (len(group), len(test)))
        self.seeds = jnp.asarray([t.seed for t in group], jnp.int32)
        self.num_test = len(test)

        # The trial axis is split over the devices when it divides evenly, else every device runs all.
        spec = P("data") if len(group) % mesh.devices.size == 0 else P()
        self.state = jax.device_put(self.state, NamedSharding(mesh, spec))
        self._train_epochs = jax.jit(self._train_epochs_fn, static_argnums=2, donate_argnums=0)
        self._eval_chunk = jax.jit(self._eval_chunk_fn)

    def _check_padding(self, narrow, narrow_state, example, width, widest):
        padded = pad_to(narrow_state, self.shapes)
        variables = lambda s: {"params": s.params, **s.model_state}
        out_narrow = jax.jit(narrow.apply)(variables(narrow_state), *example)
        out_wide = jax.jit(self.model.apply)(variables(padded), *example)
        error = float(jnp.max(jnp.abs(out_narrow - out_wide)))
        if not error <= 1e-4 * (1.0 + float(jnp.max(jnp.abs(out_narrow)))):
            raise ValueError(f"{self.config.model.name}: width {width} padded to {widest} does not compute the "
                             f"narrow network (outputs differ by {error:.3g}); normalisation over the "
                             f"padded axis breaks padding. Set config.sweep.pad_widths=False.")

    def _train_epochs_fn(self, state, first_epoch, num_epochs: int):
        train_step = jax.vmap(make_train_step(self.model, self.task, self.tx, seed=0))
        b, steps = self.config.batch_size, self.steps_per_epoch
        augment = self.config.sweep.get("augment", "")

        def epoch(state, e):
            def order(seed, subset):  # this trial's batches of epoch e: a permutation of its subset
                key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 0xDA7A), e)
                return jax.random.permutation(key, subset)[:steps * b].reshape(steps, b)
            index = jax.vmap(order)(self.seeds, self.subsets).swapaxes(0, 1)   # (steps, trials, batch)

            def step(state, idx):
                batch = _augment(_gather(self.train_arrays, self.labels, idx), self.seeds, state.step[0], augment)
                return train_step(state, batch, self.seeds)
            state, metrics = jax.lax.scan(step, state, index)
            return state, jax.tree.map(lambda x: x.sum(0), metrics)

        state, metrics = jax.lax.scan(epoch, state, first_epoch + jnp.arange(num_epochs))
        return state, jax.tree.map(lambda x: x.sum(0), metrics)

    def _eval_chunk_fn(self, state, arrays, labels, index, mask):
        batch = _gather(arrays, labels, index)
        batch["mask"] = jnp.broadcast_to(mask, index.shape)
        return jax.vmap(make_eval_step(self.model, self.task))(state, batch)

    def evaluate(self, split: str):
        """Per-trial means: on each trial's training subset with its noisy labels, or on the test split."""
        if split == "train":
            arrays, labels, index = self.train_arrays, self.labels, self.subsets
        else:
            arrays, labels = self.test_arrays, self.test_labels
            index = jnp.broadcast_to(jnp.arange(self.num_test, dtype=jnp.int32), (len(self.group), self.num_test))
        total, size, chunk = None, index.shape[1], self.config.eval_batch_size
        for start in range(0, size, chunk):
            idx = index[:, start:start + chunk]
            real = idx.shape[1]
            if real < chunk:  # one shape for every chunk: pad with row 0, masked out
                idx = jnp.pad(idx, ((0, 0), (0, chunk - real)))
            mask = jnp.arange(chunk) < real
            m = self._eval_chunk(self.state, arrays, labels, idx, mask)
            total = m if total is None else metrics_lib.add(total, m)
        total = jax.device_get(total)
        return [metrics_lib.means(jax.tree.map(lambda x: x[i], total)) for i in range(len(self.group))]

    def train(self, first_epoch: int, num_epochs: int):
        self.state, metrics = self._train_epochs(self.state, jnp.int32(first_epoch), num_epochs)
        metrics = jax.device_get(metrics)
        for quantity in ("loss", "grads", "update"):
            bad = np.flatnonzero(metrics[f"nonfinite_{quantity}"][0] > 0)
            if len(bad):
                names = ", ".join(self.group[i].name for i in bad)
                raise FloatingPointError(f"non-finite {quantity} in trials {names} between epochs {first_epoch} "
                                         f"and {first_epoch + num_epochs}; lower the learning rate.")
        metrics = {k: v for k, v in metrics.items() if not k.startswith("nonfinite") and k != "grad_norm"}
        return [metrics_lib.means(jax.tree.map(lambda x: x[i], metrics)) for i in range(len(self.group))]

    def check_padding_kept(self):
        """Raises if a padded unit learned something (then the trial was not its narrow network)."""
        def leaks(x, narrow):
            padding = np.array(x)
            padding[tuple(slice(0, n) for n in narrow.shape)] = 0
            return bool(np.any(padding))

        params = jax.device_get(self.state.params)
        for i, t in enumerate(self.group):
            mine = jax.tree.map(lambda x: x[i], params)
            if any(jax.tree.leaves(jax.tree.map(leaks, mine, self.narrow_shapes[t.width].params))):
                raise RuntimeError(f"trial {t.name}: the padding of width {t.width} changed during training, so "
                                   f"it did not train the narrow network (an activation with f(0) != 0?). "
                                   f"Set config.sweep.pad_widths=False.")


# ---- the sweep -------------------------------------------------------------------------------------

def _check(config):
    sweep = config.sweep
    if not sweep.get("name"):
        raise ValueError("config.sweep.name is required: trials go to workdir/<name>/<trial>/.")
    for field in ("eval_every_epochs", "checkpoint_every_epochs"):
        if not isinstance(sweep[field], int) or sweep[field] < 1:
            raise ValueError(f"config.sweep.{field}={sweep[field]!r} must be a whole number >= 1.")
    if sweep.pad_widths and sweep.max_pad_ratio < 1:
        raise ValueError(f"config.sweep.max_pad_ratio={sweep.max_pad_ratio} must be >= 1 (how much wider "
                         f"the widest trial of a group may be than its narrowest).")
    for field in sweep.width_kwargs:
        if field not in config.model.kwargs:
            raise ValueError(f"config.sweep.width_kwargs sets {field!r}, which config.model.kwargs lacks; "
                             f"known: {', '.join(sorted(config.model.kwargs))}.")


def _status(directory) -> dict:
    path = directory / "status.json"
    return json.loads(path.read_text()) if path.exists() else {"status": "pending"}


def _write_history(directory, records):
    (directory / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _read_history(directory, last_epoch: int) -> list[dict]:
    path = directory / "metrics.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [r for r in records if r["epoch"] <= last_epoch]


def run_group(config, group, root, train, test, mesh, stop) -> bool:
    """Trains one group to its last epoch (resuming from its checkpoint); False if a signal stopped it."""
    sweep, gid = config.sweep, _group_id(group)
    g = _Group(config, group, train, test, mesh)
    dirs = [root / t.name for t in group]
    for t, d in zip(group, dirs):
        d.mkdir(parents=True, exist_ok=True)
        (d / "config.json").write_text(trial_config(config, t).to_json_best_effort(indent=2))

    checkpoints = Checkpoints(root / "groups" / gid, max_to_keep=2)
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), g.state)
    restored, first = checkpoints.restore(abstract), 0
    if restored is not None:
        g.state, first = restored, checkpoints.steps()[-1]
    history = [_read_history(d, first) for d in dirs]
    seconds_before = history[0][-1]["seconds"] if history[0] else 0.0
    logging.info("%s %d trials (widths %s, train size %d, %d epochs) from epoch %d; group %s.",
                 "Resuming" if first else "Training", len(group), sorted({t.width for t in group}), g.n,
                 g.epochs, first, gid)
    start_time = last_log = time.perf_counter()
    epoch = first
    try:
        while epoch < g.epochs:
            chunk = min(sweep.eval_every_epochs - epoch % sweep.eval_every_epochs, g.epochs - epoch)
            running = g.train(epoch, chunk)
            epoch += chunk
            evals = {"train": g.evaluate("train"), "test": g.evaluate("test")}
            elapsed = time.perf_counter() - start_time
            for i in range(len(group)):
                history[i].append({"epoch": epoch, "step": epoch * g.steps_per_epoch,
                                   "seconds": round(seconds_before + elapsed, 2),
                                   **{f"train_{k}_running": v for k, v in running[i].items()},
                                   **{f"{split}_{k}": v for split, e in evals.items() for k, v in e[i].items()}})
            stopping = stop.requested(sync=True)
            if epoch % sweep.checkpoint_every_epochs == 0 or epoch == g.epochs or stopping:
                checkpoints.save(epoch, g.state)
                for d, records in zip(dirs, history):
                    _write_history(d, records)
                    files.write_json(d / "status.json", {"status": "running", "epoch": epoch, "group": gid})
            if time.perf_counter() - last_log > 10 or epoch == g.epochs:
                last_log, rate = time.perf_counter(), (epoch - first) / elapsed
                accuracy = [r[-1].get("test_accuracy") for r in history]
                shown = "" if accuracy[0] is None else f" | mean test error {100 * (1 - np.mean(accuracy)):.1f}%"
                logging.info("  epoch %d/%d%s | %.1f epochs/s | ETA %s", epoch, g.epochs, shown, rate,
                             time.strftime("%H:%M:%S", time.gmtime((g.epochs - epoch) / rate)))
            if stopping:
                logging.warning("Stopped at epoch %d by %s.", epoch, stop.received)
                return False
        g.check_padding_kept()
    finally:
        checkpoints.wait()
        checkpoints.close()
    for i, (t, d) in enumerate(zip(group, dirs)):
        files.write_json(d / "status.json", {"status": "done", "group": gid, "params": g.params[t.width],
                                             **t.row(), **history[i][-1]})
    return True


def collect(config, workdir) -> list[dict]:
    """Writes results.csv (one row per finished trial in the sweep's directory, from this config or an
    earlier one: its axes, parameters, last evaluation) and curves.csv (every evaluation of those
    trials); returns the rows of this config's trials."""
    root = files.path(workdir) / config.sweep.name
    rows, curves = {}, []
    for directory in sorted(root.iterdir(), key=lambda d: d.name):
        status = _status(directory)
        if status["status"] != "done":
            continue
        axes = {axis: status[axis] for axis in AXES}
        rows[directory.name] = {**axes, **{k: v for k, v in status.items() if k not in ("status", *AXES)}}
        curves += [{**axes, **r} for r in _read_history(directory, status["epoch"])]
    for name, table in (("results.csv", list(rows.values())), ("curves.csv", curves)):
        if table:
            with (root / name).open("w") as f:
                writer = csv.DictWriter(f, list(dict.fromkeys(k for r in table for k in r)))
                writer.writeheader()
                writer.writerows(table)
    return [rows[t.name] for t in trials(config.sweep) if t.name in rows]


def run_sweep(config, workdir) -> list[dict]:
    """Trains every trial of config.sweep that is not done yet; returns the rows of results.csv."""
    _check(config)
    quiet_orbax_logs()
    root = files.path(workdir) / config.sweep.name
    root.mkdir(parents=True, exist_ok=True)
    (root / "sweep_config.json").write_text(config.to_json_best_effort(indent=2))
    every = trials(config.sweep)
    todo = [t for t in every if _status(root / t.name)["status"] != "done"]
    groups = plan(config, todo)
    logging.info("Sweep %s: %d trials, %d done, %d to train in %d groups; %s.", config.sweep.name, len(every),
                 len(every) - len(todo), sum(map(len, groups)), len(groups), root)
    if groups:
        ds = config.dataset
        train, test = _arrays(config, ds.train_split), _arrays(config, ds.eval_split)
        mesh = sharding.make_mesh()
        with StopSignal() as stop:
            for i, group in enumerate(groups):
                logging.info("Group %d/%d:", i + 1, len(groups))
                if not run_group(config, group, root, train, test, mesh, stop):
                    collect(config, workdir)  # the finished trials' table
                    raise Stopped(f"sweep {config.sweep.name} stopped by a signal in group {i + 1} of "
                                  f"{len(groups)}; rerun the same command to resume it.")
    return collect(config, workdir)

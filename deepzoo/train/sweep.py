"""Sweeps: one config, a grid of trials over any of its fields, trained group by group in the one run loop.

    config.sweep.name      trials go to workdir/<name>/
    config.sweep.axes      a tree mirroring the config whose leaves are tuples of values; the grid is their
                           product, e.g. axes.optimizer.learning_rate = (1e-3, 1e-2), axes.seed = (0, 1, 2)
    config.sweep.tied      a tree whose leaves name an axis field: that field takes the axis's value
                           (tied.dataset.subset_seed = "seed": each seed its own data subset and noise),
                           or (axis field, multiplier): multiplier x the value (a tuple multiplier gives
                           per-stage widths: tied.model.kwargs.widths = ("model.kwargs.stem_width", (1, 2, 4, 8)))
    config.sweep.padded    axis fields whose values are zero-padded to the group's widest (train/padding.py)
    config.sweep.max_pad_ratio, config.sweep.shard ("i/n": this job runs every n-th group)
    run_sweep(config, workdir) -> rows        # python -m deepzoo.main with config.program = "sweep"

Each trial is a supervised config (trial_config): the sweep's config with the trial's values set. Trials
that differ only in fields that become arrays under vmap share one program: the seed; the data's
label_noise, subset_seed and train_examples (each trial reads its own batches from the pipeline); the
learning rate, momentum and weight decay (held in the optimizer state, train/optim.py); padded widths. Such a
group is a program of the one run loop (train/loop.py) in workdir/<name>/groups/<id>/; groups run one
after another. A trial's batches, initialisation and dropout come from its own config exactly as in a
run of that config alone, which tests/test_sweep.py compares. results.csv (one row per finished trial:
its fields, parameters, last evaluation) and curves.csv (every evaluation) gather the groups.
"""
import csv
import difflib
import hashlib
import itertools
import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging
from jax.sharding import NamedSharding, PartitionSpec as P

from deepzoo import data, models, tasks
from deepzoo.plots import curves
from deepzoo.tasks import metrics as metrics_lib
from deepzoo.train import files, loop, optim, padding, sharding
from deepzoo.train.state import create_train_state
from deepzoo.train.step import make_eval_step, make_train_step
from deepzoo.train.trainer import load_sources, schedule

# Fields that become arrays under vmap (besides config.sweep.padded).
VMAPPED = ("seed", "dataset.label_noise", "dataset.subset_seed", "dataset.train_examples",
           *(f"optimizer.{h}" for h in optim.SWEEPABLE))
# Zero and non-zero values of these build different optimizer chains: a group holds one kind.
_ZERO_IS_STRUCTURE = ("optimizer.momentum", "optimizer.weight_decay")


def _leaves(tree, prefix: str = "") -> dict:
    """A nested ConfigDict or dict -> {"a.b.c": leaf}."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, (dict, ml_collections.ConfigDict)):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _get(config, field: str):
    node = config
    for part in field.split("."):
        node = node[part]
    return node


def _set(config, field: str, value):
    *parents, leaf = field.split(".")
    node = config
    for part in parents:
        node = node[part]
    node[leaf] = tuple(value) if isinstance(value, list) else value


def axes(config) -> dict[str, tuple]:
    """{field: its values}, checked against the config."""
    fields = _leaves(config.sweep.axes)
    if not fields:
        raise ValueError("config.sweep.axes is empty; give at least one field and its values, e.g. "
                         "axes.seed = (0, 1, 2).")
    known = _leaves(ml_collections.ConfigDict({k: v for k, v in config.items() if k != "sweep"}))
    for field, values in fields.items():
        if field not in known and not any(k.startswith(field + ".") for k in known):
            close = difflib.get_close_matches(field, known, n=2)
            raise ValueError(f"config.sweep.axes.{field} names no field of the config"
                             f"{'; did you mean ' + ' or '.join(close) if close else ''}.")
        if not isinstance(values, (tuple, list)) or not values:
            raise ValueError(f"config.sweep.axes.{field}={values!r} must be a non-empty tuple of values.")
    return fields


def trials(config) -> list[dict]:
    """The grid: one {field: value} per trial, tied fields included, in a fixed order."""
    grid = axes(config)
    swept = [*grid, *_leaves(config.sweep.get("tied", {}))]
    for field in config.sweep.get("padded", ()):
        if not field.startswith("model.kwargs.") or field not in swept:
            raise ValueError(f"config.sweep.padded names {field!r}; padded fields are swept fields of model.kwargs "
                             f"(e.g. model.kwargs.width), and the swept fields are {', '.join(swept)}.")
    tied = {f: (t, None) if isinstance(t, str) else tuple(t) for f, t in _leaves(config.sweep.get("tied", {})).items()}
    for field, (axis, _) in tied.items():
        if axis not in grid:
            raise ValueError(f"config.sweep.tied.{field} names {axis!r}, which is no axis; axes: {', '.join(grid)}.")

    def scaled(value, multiplier):
        if multiplier is None:
            return value
        if isinstance(multiplier, (tuple, list)):
            return tuple(int(m * value) for m in multiplier)
        return type(value)(multiplier * value)
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    return [{**p, **{field: scaled(p[axis], m) for field, (axis, m) in tied.items()}} for p in points]


def _columns(fields) -> dict[str, str]:
    """Each field's column: its last part, or the whole path where two would clash."""
    last = [f.split(".")[-1] for f in fields]
    return {f: (s if last.count(s) == 1 else f) for f, s in zip(fields, last)}


def trial_name(config, trial: dict) -> str:
    """A readable name from the trial's axis values (label_noise0.15_width8_seed1)."""
    names = _columns(list(axes(config)))
    value = lambda v: "-".join(map(str, v)) if isinstance(v, (tuple, list)) else f"{v:g}" if isinstance(
        v, float) else str(v)
    return "_".join(f"{names[f]}{value(trial[f])}" for f in axes(config))


def trial_id(config, trial: dict) -> str:
    """What identifies a trial across sweeps: its whole config. (The "samples" variant of a double-descent
    sweep finds the 4,000-example trials of "mlp" done, though it names its axes differently.)"""
    text = json.dumps(trial_config(config, trial).to_dict(), sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _has(config, field: str) -> bool:
    try:
        _get(config, field)
        return True
    except (KeyError, AttributeError):
        return False


def trial_config(config, trial: dict):
    """The supervised config of one trial: its values set, the sweep left out."""
    c = ml_collections.ConfigDict(config.to_dict())
    del c["sweep"]
    c.program = "supervised"
    for field, value in trial.items():
        _set(c, field, value)
    return c


def _widest(values):
    return tuple(max(v) for v in zip(*values)) if isinstance(values[0], (tuple, list)) else max(values)


def _program_key(config, trial: dict) -> str:
    """What trials sharing one program agree on: every swept field that cannot be an array under vmap,
    whether momentum and weight decay are zero, and (counting epochs) the training set's size."""
    padded = tuple(config.sweep.get("padded", ()))
    key = [(f, bool(v) if f in _ZERO_IS_STRUCTURE else v) for f, v in sorted(trial.items())
           if f in _ZERO_IS_STRUCTURE or (f not in VMAPPED and f not in padded)]
    if config.get("num_epochs"):
        key.append(trial.get("dataset.train_examples"))
    return repr(key)


def plan(config, todo: list[dict]) -> list[list[dict]]:
    """Groups of trials that share one program (_program_key), padded widths up to max_pad_ratio apart."""
    sweep, padded = config.sweep, tuple(config.sweep.get("padded", ()))
    size = lambda t: max(np.max(t[f]) for f in padded) if padded else 0
    groups = []
    ordered = sorted(todo, key=lambda t: (_program_key(config, t), size(t)))
    for _, same in itertools.groupby(ordered, key=lambda t: _program_key(config, t)):
        bucket = []
        for t in same:
            if bucket and size(t) > size(bucket[0]) * sweep.get("max_pad_ratio", 1.0):
                groups.append(bucket)
                bucket = []
            bucket.append(t)
        groups.append(bucket)
    if sweep.get("shard"):  # "i/n": this job runs every n-th group (job arrays, one slice per group)
        index, count = (int(v) for v in sweep.shard.split("/"))
        groups = groups[index::count]
    return groups


class Trials:
    """One group of trials as a program of the loop: its step is a chunk of log_every_steps train steps of
    every trial (a lax.scan of the library's train step, vmapped over the trials)."""
    unit, steps_field, flops_per_step = "chunk", "config.num_train_steps", 0.0
    # A group's trials are known by their own configs, not by the rest of the sweep; its chunk is
    # log_every_steps long, so that may not change on resume.
    free_to_change = (*(f for f in loop.FREE_TO_CHANGE if not f.startswith("log_every")), "sweep")

    def __init__(self, config, group: list[dict], names: list[str], mesh):
        self.members, self.mesh = tuple(names), mesh
        self.ids = [trial_id(config, t) for t in group]
        self.config = ml_collections.ConfigDict({**config.to_dict(), "group": self.members})
        self.configs = [trial_config(config, t) for t in group]
        self.group_fields = {f for t in group for f in t}
        first = self.configs[0]
        with data.shared_reads():   # one copy of the split in memory for all the trials
            self.sources = [load_sources(c.dataset) for c in self.configs]
        plan_ = schedule(first, len(self.sources[0][0]))
        k = self.steps_per_unit = plan_["log_every"]
        for name in ("num_steps", "eval_every", "checkpoint_every"):
            if plan_[name] % k:
                raise ValueError(f"a sweep trains in chunks of log_every_steps={k} steps: make the run's "
                                 f"{name.replace('_', ' ')} ({plan_[name]} steps) a multiple of it.")
        self.num_steps, self.eval_every = plan_["num_steps"] // k, plan_["eval_every"] // k
        self.steps_field = f"the run's chunks of {k} steps"
        self.checkpoint_every, self.log_every = plan_["checkpoint_every"] // k, 1
        self.keep_checkpoints = first.keep_checkpoints
        self.task = tasks.get(first.task.name, **first.task.kwargs)
        self.txs = [optim.create(c.optimizer, plan_["num_steps"])[0] for c in self.configs]
        padded = tuple(config.sweep.get("padded", ()))
        self.model_kwargs = dict(first.model.kwargs) | {f.split(".")[-1]: _widest([t[f] for t in group])
                                                        for f in padded}
        self.model = models.get(first.model.name, **self.model_kwargs)
        self.narrow = [models.get(c.model.name, **c.model.kwargs) for c in self.configs]
        self.example = self.task.inputs(self.sources[0][0].read(np.arange(2)))
        self.seeds = jnp.asarray([c.seed for c in self.configs], jnp.int32)
        # The trial axis is split over the devices when it divides evenly, else every device runs all.
        spec = P("data") if len(group) % mesh.devices.size == 0 else P()
        self.trial_sharding = NamedSharding(mesh, spec)
        ema, players = first.ema_decay > 0, getattr(self.task, "players", ())
        self._wide = jax.eval_shape(lambda: create_train_state(self.model, self.txs[0], self.example, seed=0,
                                                               ema=ema, players=players))
        self.shapes = jax.tree.map(lambda x: jax.ShapeDtypeStruct((len(group), *x.shape), x.dtype,
                                                                  sharding=self.trial_sharding), self._wide)

        step = jax.vmap(make_train_step(self.model, self.task, self.txs[0], seed=0,
                                        grad_accum_steps=first.grad_accum_steps, ema_decay=first.ema_decay))
        self._chunk = jax.jit(lambda state, batches, seeds: jax.lax.scan(
            lambda s, b: step(s, b, seeds), state, batches), donate_argnums=0)
        self._eval = {"": jax.jit(jax.vmap(make_eval_step(self.model, self.task)))}
        if first.ema_decay > 0:
            self._eval["ema_"] = jax.jit(jax.vmap(make_eval_step(self.model, self.task, use_ema=True)))

    def init(self):
        """Each trial initialised as its own (narrow) network from its own seed, padded to the widest."""
        first = self.configs[0]
        ema, players = first.ema_decay > 0, getattr(self.task, "players", ())
        inits, states = {}, []
        for c, narrow, tx in zip(self.configs, self.narrow, self.txs):
            key = repr(c.model.kwargs)
            if key not in inits:  # one compiled initialiser per width; the seed is its argument
                inits[key] = jax.jit(lambda seed, narrow=narrow: create_train_state(
                    narrow, self.txs[0], self.example, seed=seed, ema=ema, players=players))
            state = inits[key](c.seed)
            state = state.replace(opt_state={p: tx.init(state.params[p]) for p in players} if players
                                  else tx.init(state.params))   # this trial's hyperparameters
            padded = padding.pad_to(state, self._wide)
            if dict(c.model.kwargs) != dict(self.model_kwargs):
                variables = lambda s: {"params": s.params, **s.model_state}
                padding.check_same_outputs(narrow, self.model, variables(state), variables(padded), self.example,
                                           f"{c.model.name} with {dict(c.model.kwargs)}")
            states.append(padded)
        return jax.device_put(jax.tree.map(lambda *xs: jnp.stack(xs), *states), self.trial_sharding)

    def abstract_state(self):
        """The group's state as ShapeDtypeStructs, a leading trial axis on every leaf: the restore target."""
        return self.shapes

    def begin(self, step: int):
        """Opens each trial's training batches (its own seed and data) at chunk `step`."""
        self.batches = [data.train_batches(train, global_batch_size=c.batch_size, seed=c.seed,
                                           start_step=step * self.steps_per_unit, process_index=0, process_count=1)
                        for c, (train, _) in zip(self.configs, self.sources)]

    def run(self, state, step: int):
        """One chunk, dispatched: log_every_steps train steps of every trial -> (state, {name: (sum,
        count)} per trial, summed over the chunk)."""
        k = self.steps_per_unit
        chunks = [jax.tree.map(lambda *xs: np.stack(xs), *(next(it) for _ in range(k))) for it in self.batches]
        batches = jax.tree.map(lambda *xs: np.stack(xs, axis=1), *chunks)     # (steps, trials, batch, ...)
        batches = jax.device_put(batches, NamedSharding(self.mesh, P(None, *self.trial_sharding.spec)))
        state, metrics = self._chunk(state, batches, self.seeds)
        return state, jax.tree.map(lambda x: x.sum(0), metrics)

    def _per_trial(self, metrics) -> list[dict]:
        return [{k: float(s[i] / max(c[i], 1e-12)) for k, (s, c) in metrics.items()} for i in range(len(self.members))]

    def train_records(self, metrics, step: int) -> list[dict]:
        """One "running" record per trial: the mean of each metric since the last record."""
        return [{"split": "running", "member": name, **values}
                for name, values in zip(self.members, self._per_trial(metrics))]

    def _evaluate_split(self, state, sources) -> list[dict]:
        """Per-trial means over each trial's own source, in batches padded (mask 0) to the longest."""
        size = self.configs[0].eval_batch_size
        per_trial = [list(data.eval_batches(s, global_batch_size=size, process_index=0, process_count=1))
                     for s in sources]
        longest = max(map(len, per_trial))
        blank = lambda b: {**b, "mask": np.zeros_like(b["mask"])}
        per_trial = [b + [blank(b[0])] * (longest - len(b)) for b in per_trial]
        values = [{} for _ in self.members]
        for prefix, eval_step in self._eval.items():
            total = None
            for batches in zip(*per_trial):
                m = eval_step(state, jax.tree.map(lambda *xs: np.stack(xs), *batches))
                total = m if total is None else metrics_lib.add(total, m)
            for v, trial in zip(values, self._per_trial(jax.device_get(total))):
                v.update({prefix + name: x for name, x in trial.items()})
        return values

    def evaluate(self, state, step: int):
        """On each trial's training set (its labels, noisy ones included) and on the eval split."""
        splits = {"train": [train for train, _ in self.sources]}
        if self.configs[0].dataset.eval_split:
            splits[self.configs[0].dataset.eval_split] = [test for _, test in self.sources]
        steps = step * self.steps_per_unit
        records = []
        for split, sources in splits.items():
            for name, c, (train, _), values in zip(self.members, self.configs, self.sources,
                                                   self._evaluate_split(state, sources)):
                records.append({"split": split, "member": name, "epoch": steps * c.batch_size / len(train), **values})
        return state, records

    def summary(self, state, records) -> dict:
        """{"trials": {name: row}}: each trial's id, fields, parameter count (of its narrow network)
        and latest values, prefixed by their split. Raises RuntimeError if a trial's padding learned anything."""
        params = jax.device_get(state.params)
        rows = {}
        for i, (name, narrow) in enumerate(zip(self.members, self.narrow)):
            shapes = jax.eval_shape(narrow.init, jax.random.key(0), *self.example)["params"]
            if padding.leaks(jax.tree.map(lambda x: x[i], params), shapes):
                raise RuntimeError(f"trial {name}: its padding changed during training, so it did not train the "
                                   f"narrow network (an activation with f(0) != 0?). Leave the field out of "
                                   f"config.sweep.padded.")
            c = self.configs[i]
            fields = {f: _get(c, f) for f in (*VMAPPED, *sorted(self.group_fields)) if _has(c, f)}
            rows[name] = {"id": self.ids[i], "fields": fields, "params": padding.count_params(shapes)}
            for r in records:
                if r.get("member") == name:
                    rows[name].update({(k if k == "epoch" else f"{r['split']}_{k}"): v for k, v in r.items()
                                       if k not in ("split", "member")})
        return {"trials": rows}

    def plot(self, records, path):
        """Draws the group's learning curves (curves.learning_curves, trials averaged per step) into `path`."""
        curves.learning_curves(records, path)


def _done(root) -> dict:
    """{trial id: (group directory, its name there, its row)} of every finished group under root/groups."""
    done = {}
    for directory in sorted((root / "groups").glob("*")) if (root / "groups").exists() else ():
        status = directory / "status.json"
        if status.exists() and json.loads(status.read_text())["status"] == "done":
            results = json.loads((directory / "results.json").read_text())
            done.update({row["id"]: (directory, name, {**row, "seconds": results["seconds"], "group": directory.name})
                         for name, row in results["trials"].items()})
    return done


def collect(config, workdir) -> list[dict]:
    """Writes results.csv (one row per finished trial in the sweep's directory, of this config or an earlier
    one: its fields, parameters and last evaluation) and curves.csv (every evaluation of those trials);
    returns the rows of this config's trials."""
    root = files.path(workdir) / config.sweep.name
    done = _done(root)
    columns = _columns(list(dict.fromkeys(f for _, _, row in done.values() for f in row["fields"])))
    rows, curve = {}, []
    for key, (directory, name, row) in done.items():
        fields = {columns[f]: v for f, v in row["fields"].items()}
        rows[key] = {**fields, **{k: v for k, v in row.items() if k not in ("id", "fields")}}
        records = [json.loads(line) for line in (directory / "metrics.jsonl").read_text().splitlines()]
        by_step = {}
        for r in records:
            if r.get("member") == name and r["split"] != "running":
                by_step.setdefault(r["step"], {"step": r["step"], "epoch": r["epoch"], "seconds": r["seconds"]}).update(
                    {f"{r['split']}_{k}": v for k, v in r.items() if k not in ("split", "member", "step", "epoch",
                                                                                 "seconds")})
        curve += [{**fields, **point} for point in by_step.values()]
    for filename, table in (("results.csv", list(rows.values())), ("curves.csv", curve)):
        if table:
            with (root / filename).open("w") as f:
                writer = csv.DictWriter(f, list(dict.fromkeys(k for r in table for k in r)))
                writer.writeheader()
                writer.writerows(table)
    return [rows[i] for i in (trial_id(config, t) for t in trials(config)) if i in rows]


def run_sweep(config, workdir, *, allow_changes: bool = False) -> list[dict]:
    """Trains every trial of config.sweep that is not done yet; returns the rows of results.csv."""
    if not config.sweep.get("name"):
        raise ValueError("config.sweep.name is required: trials go to workdir/<name>/.")
    root = files.path(workdir) / config.sweep.name
    root.mkdir(parents=True, exist_ok=True)
    every = trials(config)
    done = _done(root)
    todo = [t for t in every if trial_id(config, t) not in done]
    groups = plan(config, todo)
    logging.info("Sweep %s: %d trials, %d done, %d to train in %d groups; %s.", config.sweep.name, len(every),
                 len(every) - len(todo), sum(map(len, groups)), len(groups), root)
    mesh = sharding.make_mesh()
    for i, group in enumerate(groups):
        names = [trial_name(config, t) for t in group]
        gid = hashlib.sha1(" ".join(names).encode()).hexdigest()[:12]
        logging.info("Group %d/%d (%s): %d trials, %s.", i + 1, len(groups), gid, len(group), ", ".join(names))
        try:
            loop.run(Trials(config, group, names, mesh), root / "groups" / gid, allow_changes=allow_changes)
        except loop.Stopped as e:
            collect(config, workdir)  # the finished trials' table
            raise loop.Stopped(f"sweep {config.sweep.name}, group {i + 1} of {len(groups)}: {e}", e.signal) from None
    return collect(config, workdir)

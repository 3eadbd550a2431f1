"""train_and_evaluate(config, workdir): supervised training, a program of the one run loop (loop.py).

    data -> global batch -> jitted train_step (state replicated and donated, batch sharded on `data`)
         -> metrics every log_every_steps -> evaluation every eval_every_steps -> checkpoint
A run started on a workdir that holds a checkpoint resumes from it: same batches, same dropout masks,
bitwise the same parameters as an uninterrupted run.
"""
import jax
import numpy as np
from absl import logging

from deepzoo import data, models, tasks, weights
from deepzoo.plots import curves
from deepzoo.tasks import metrics as metrics_lib
from deepzoo.train import flops, loop, optim, sharding
from deepzoo.train.checkpoint import match_layers, take_layers, warm_start
from deepzoo.train.loop import NonFiniteError, Stopped  # noqa: F401  (raised by train_and_evaluate)
from deepzoo.train.state import create_train_state
from deepzoo.train.step import make_eval_step, make_train_step


_PERIODS = ("log_every", "eval_every", "checkpoint_every")
# A training split held in memory up to this size is also held on the device: each step then gathers its batch
# there, from rows sent once per ORDER_CHUNK steps, and the host does no per-step work but the dispatch.
ON_DEVICE_MAX_BYTES = 256 * 2**20
ORDER_CHUNK = 256


def schedule(config, train_size: int) -> dict[str, int]:
    """num_steps and the log, eval and checkpoint periods, in steps. With config.num_epochs > 0 the run is
    that many epochs of train_size // batch_size steps, and a field <x>_every_epochs, where the config
    has one, replaces <x>_every_steps."""
    epochs = config.get("num_epochs", 0)
    if not epochs:
        return {"num_steps": config.num_train_steps, **{p: config[f"{p}_steps"] for p in _PERIODS}}
    per_epoch = train_size // config.batch_size
    if per_epoch < 1:
        raise ValueError(f"the {train_size} training examples make no batch of config.batch_size="
                         f"{config.batch_size}: lower batch_size or use more examples.")
    return {"num_steps": epochs * per_epoch, **{p: config[f"{p}_epochs"] * per_epoch if f"{p}_epochs" in config
                                                else config[f"{p}_steps"] for p in _PERIODS}}


def _check_config(config, mesh, periods: dict[str, int]):
    """Fails before any work, naming the field and the fix."""
    for field in ("batch_size", "eval_batch_size", "grad_accum_steps", "keep_checkpoints"):
        if not isinstance(config[field], int) or config[field] < 1:
            raise ValueError(f"config.{field}={config[field]!r} must be a whole number >= 1.")
    unit = "epochs" if config.get("num_epochs") else "steps"
    names = {"num_steps": "num_epochs" if unit == "epochs" else "num_train_steps", "eval_every": "eval_every_steps"}
    for name, value in periods.items():
        field = names.get(name, f"{name}_{unit}" if f"{name}_{unit}" in config else f"{name}_steps")
        least = 0 if name == "eval_every" else 1
        if not isinstance(value, int) or value < least:
            raise ValueError(f"config.{field}={config[field]!r} must be a whole number >= {least}"
                             f"{' (0: only at the end)' if least == 0 else ''}.")
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


def evaluate(eval_step, state, source, batch_size, mesh) -> dict[str, float]:
    """{name: mean} of `eval_step`'s metrics over every batch of `source`, in global batches of
    batch_size on `mesh`, fetched to the host."""
    total = None
    for batch in data.eval_batches(source, global_batch_size=batch_size):
        m = eval_step(state, sharding.global_batch(batch, mesh))
        total = m if total is None else metrics_lib.add(total, m)
    return metrics_lib.means(sharding.to_host(total))


def load_sources(ds):
    """The train and eval sources that config.dataset describes (eval None when eval_split is '')."""
    # Optional fields: image_size > 0 crops images of any size (ImageNet); text datasets need max_length
    # (and vocab_size, languages for SentencePiece translation).
    # classes: a subset of the labels, relabelled 0..k-1 in both splits; train_examples: a small,
    # class-balanced training set drawn with subset_seed (data/sources.py, select).
    # label_noise: that fraction of the training labels wrong, drawn with subset_seed; augmentation: e.g.
    # "crop_flip" on in-memory images (data/augment.py).
    options = {k: ds[k] for k in ("image_size", "max_length", "vocab_size", "languages", "classes") if k in ds}
    train_options = {k: ds[k] for k in ("label_noise", "augmentation") if k in ds}
    train = data.load(ds.name, ds.train_split, data_dir=ds.data_dir, cache=ds.cache, augment=True,
                      num_examples=ds.get("train_examples", 0), seed=ds.get("subset_seed", 0), **options,
                      **train_options)
    test = data.load(ds.name, ds.eval_split, data_dir=ds.data_dir, cache=ds.cache, **options) if ds.eval_split else None
    if test is not None and len(test) == 0:
        raise ValueError(f"the eval split {ds.eval_split!r} of {ds.name!r} is empty; set "
                         f"--config.dataset.eval_split to another split, or to '' for no evaluation.")
    return train, test


def _gathering(train_step, batch_sharding):
    """train_step(state, batch) -> step(state, arrays, rows, first): the batch of data step state.step is
    rows[state.step - first] of the arrays held on the device, gathered there and sharded as a fed batch."""
    def step(state, arrays, rows, first):
        indices = jax.lax.dynamic_index_in_dim(rows, state.step - first, keepdims=False)
        batch = jax.tree.map(lambda a: jax.lax.with_sharding_constraint(a[indices], batch_sharding), arrays)
        return train_step(state, batch)
    return step


class Supervised:
    """One model trained on one dataset by one task: the loop's step is one train step."""
    unit, members, steps_field = "step", (), "config.num_train_steps"

    def __init__(self, config):
        self.config, self.mesh = config, sharding.make_mesh()
        self.train_source, self.eval_source = load_sources(config.dataset)
        periods = schedule(config, len(self.train_source))
        _check_config(config, self.mesh, periods)
        self.keep_checkpoints = config.keep_checkpoints
        self.__dict__.update(periods)  # num_steps, log_every, eval_every, checkpoint_every
        if config.get("num_epochs"):
            self.steps_field = "the steps of config.num_epochs"
        self.model = models.get(config.model.name, **config.model.kwargs)
        self.task = tasks.get(config.task.name, **config.task.kwargs)
        self.tx, self.learning_rate = optim.create(config.optimizer, self.num_steps)

        example = self.task.inputs(self.train_source.read(np.arange(1)))
        self._init = lambda: create_train_state(self.model, self.tx, example, seed=config.seed,
                                                ema=config.ema_decay > 0, players=getattr(self.task, "players", ()))
        shapes = jax.eval_shape(self._init)
        # The output's shape, or a dict of shapes for models with several outputs (autoencoders, VAE).
        output = jax.eval_shape(lambda s: self.model.apply({"params": s.params, **s.model_state}, *example), shapes)
        self.task.validate(jax.tree.map(lambda a: a.shape, output), self.train_source,
                           f"{config.model.name} (config.model)")
        replicated = sharding.replicated(self.mesh)
        self.state_sharding = jax.tree.map(lambda _: replicated, shapes)
        self.shapes = jax.tree.map(lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh), shapes,
                                   self.state_sharding)
        self.train_step = jax.jit(
            make_train_step(self.model, self.task, self.tx, seed=config.seed,
                            grad_accum_steps=config.grad_accum_steps, ema_decay=config.ema_decay),
            in_shardings=(self.state_sharding, sharding.batch_sharded(self.mesh)),
            out_shardings=(self.state_sharding, replicated), donate_argnums=0)
        # A plain in-memory split (no augmentation) on one process: held on the device (see ON_DEVICE_MAX_BYTES).
        self.on_device = (type(self.train_source) is data.ArraySource and jax.process_count() == 1
                          and sum(a.nbytes for a in self.train_source.arrays.values()) <= ON_DEVICE_MAX_BYTES)
        if self.on_device:
            self.train_arrays = jax.device_put(self.train_source.arrays, replicated)
            self.train_step_on_device = jax.jit(
                _gathering(self.train_step, sharding.batch_sharded(self.mesh)),
                in_shardings=(self.state_sharding, replicated, replicated, replicated),
                out_shardings=(self.state_sharding, replicated), donate_argnums=0)
        self.eval_steps = {"": jax.jit(make_eval_step(self.model, self.task), out_shardings=replicated)}
        if config.ema_decay > 0:
            self.eval_steps["ema_"] = jax.jit(make_eval_step(self.model, self.task, use_ema=True),
                                              out_shardings=replicated)
        self.flops_per_step = self.hardware_flops_per_step = 0.0
        if config.get("log_mfu", False):  # model and hardware FLOPs utilisation in the progress line and metrics
            local_rows = np.arange(config.batch_size // jax.process_count())
            batch = sharding.global_batch(self.train_source.read(local_rows), self.mesh)
            variables = {"params": self.shapes.params, **self.shapes.model_state}
            self.flops_per_step = flops.model_flops(self.model, variables, self.task.inputs(batch))
            self.hardware_flops_per_step = flops.step_flops(self.train_step, self.shapes, batch)
            logging.info("A train step does %.3g model FLOPs (3 forwards), %.3g in XLA's count.", self.flops_per_step,
                         self.hardware_flops_per_step)

    def abstract_state(self):
        """The state's ShapeDtypeStructs, replicated on the mesh: the checkpoint's restore target."""
        return self.shapes

    def init(self):
        """A fresh state from config.seed, replicated on the mesh; with config.init_from, the layers it names
        start from the checkpoint of its workdir, or from the PyTorch / Hugging Face checkpoint file of its `weights`
        (deepzoo.weights; layer names may be patterns there: ("conv1", "bn1", "stage*") for a ResNet's trunk)."""
        state = jax.jit(self._init, out_shardings=self.state_sharding)()
        init_from = self.config.get("init_from")
        if init_from and init_from.get("workdir"):  # transfer: part of another run's weights
            state = warm_start(state, init_from.workdir, tuple(init_from.layers))
            logging.info("Layers %s start from the run in %s.", ", ".join(init_from.layers), init_from.workdir)
        elif init_from and init_from.get("weights"):
            layers = match_layers(state.params, tuple(init_from.layers))
            _, variables = weights.load(self.config.model.name, init_from.weights, layers=layers,
                                        **self.config.model.kwargs)
            state = take_layers(state, variables, layers, init_from.weights)
            logging.info("Layers %s start from %s.", ", ".join(layers), init_from.weights)
        return state

    def begin(self, step: int):
        """Opens the training batches at `step`: the batches an uninterrupted run reads from there."""
        ds = self.config.dataset
        if self.on_device:
            self.order = data.TrainOrder(len(self.train_source), self.config.seed, self.config.batch_size)
            self.rows = None   # (first step, on the device: its (steps, batch) example indices, first step)
            return
        self.batches = data.train_batches(self.train_source, global_batch_size=self.config.batch_size,
                                          seed=self.config.seed, start_step=step, num_steps=self.num_steps - step,
                                          prefetch=ds.prefetch, threads=ds.get("threads", 1))

    def run(self, state, step: int):
        """One train step on the next global batch, dispatched -> (state, metrics {name: (sum, count)})."""
        if not self.on_device:
            return self.train_step(state, sharding.global_batch(next(self.batches), self.mesh))
        index = step - 1   # the loop counts steps from 1, the data order from 0
        if self.rows is None or not self.rows[0] <= index < self.rows[0] + len(self.rows[1][0]):
            rows = self.order.indices(index, min(ORDER_CHUNK, self.num_steps - index)).astype(np.int32)
            self.rows = (index, jax.device_put((rows, np.int32(index)), sharding.replicated(self.mesh)))
        return self.train_step_on_device(state, self.train_arrays, *self.rows[1])

    def train_records(self, metrics, step: int) -> list[dict]:
        """One "train" record: each metric's mean since the last record, and the learning rate
        of the last step."""
        return [{"split": "train", **metrics_lib.means(metrics), "learning_rate": float(self.learning_rate(step - 1))}]

    def evaluate(self, state, step: int):
        """(state, one record of the eval split's metrics, those of the EMA parameters prefixed
        "ema_" when config.ema_decay > 0); no record without an eval split."""
        if self.eval_source is None:
            return state, []
        values = {}
        for prefix, eval_step in self.eval_steps.items():
            values.update({prefix + k: v for k, v in evaluate(eval_step, state, self.eval_source,
                                                               self.config.eval_batch_size, self.mesh).items()})
        logging.info("eval %s at step %d: %s", self.config.dataset.eval_split, step,
                     " | ".join(f"{k} {v:.4f}" for k, v in values.items()))
        return state, [{"split": self.config.dataset.eval_split, **values}]

    def summary(self, state, records) -> dict:
        """The last train metrics as they are, the evaluation's prefixed with its split (test_accuracy)."""
        results = {}
        for r in records:
            values = {k: v for k, v in r.items() if k != "split"}
            results.update(values if r["split"] == "train" else {f"{r['split']}_{k}": v for k, v in values.items()})
        return results

    def plot(self, records, path):
        """Draws the run's learning curves (curves.learning_curves) into `path`."""
        curves.learning_curves(records, path)


def train_and_evaluate(config, workdir, *, allow_changes: bool = False) -> dict[str, float]:
    """Trains config.model on config.dataset with config.task; returns the final metrics.
    `workdir` is a local path or a bucket URL (gs://...)."""
    return loop.run(Supervised(config), workdir, allow_changes=allow_changes)

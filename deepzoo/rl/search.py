"""Neural architecture search with reinforcement learning (Zoph & Le 2017) as a program of the one run loop.

One step of the loop is one controller step:
    1. the controller (config.model, deepzoo/models/nas.py) samples config.search.children architectures
       (config.search.method "random": uniformly, the control with as many child trainings);
    2. the children train together, from their own initialisations, on the same batches of the search split of
       config.dataset's training set: the library's train step (task classification), vmapped over groups of
       them, each child's tokens in its "architecture" collection, config.search.child_steps steps;
    3. each child's accuracy on the held-out part of the training set is its reward;
    4. the controller takes one REINFORCE step (the train step with task sequence_reinforce; their equation 2)
       against a baseline, the exponential moving average of earlier rewards (decay config.search.baseline_decay).
Sampling and the update are jitted; the children's steps are dispatched one by one (train_children says why). The
state holds the controller, the baseline and every child sampled so far
with its reward, so a resumed search is the uninterrupted one. results.json: the best reward, the mean of the top
five, and the best architectures.
"""
import jax
import jax.numpy as jnp
import numpy as np

from deepzoo import data, models, tasks
from deepzoo.registry import lookup
from deepzoo.tasks import metrics as metrics_lib
from deepzoo.train import loop, optim
from deepzoo.train.state import create_train_state
from deepzoo.train.step import make_eval_step, make_train_step

# Random streams folded into key(config.seed), then into the controller step.
_SAMPLE, _CHILDREN, _BATCHES = 0, 1, 2
TOP = 5


def search_split(name: str, validation_fraction: float):
    """(train, validation) arrays {"input", "label"} of dataset `name`'s training split, cut at a fixed
    permutation: the children's rewards never see the test split."""
    source = data.load(name, "train")
    arrays = source.read(np.arange(len(source)))
    order = np.random.default_rng(0).permutation(len(source))
    cut = len(source) - int(round(validation_fraction * len(source)))
    pick = lambda idx: {"input": jnp.asarray(arrays["input"][idx]), "label": jnp.asarray(arrays["label"][idx])}
    return pick(order[:cut]), pick(order[cut:])


class ArchitectureSearch:
    """The search as a loop program (module docstring); its state is {"controller", "baseline", "tokens",
    "rewards"} with the history of (steps, children, ...) filled step by step."""
    unit, steps_field, members = "iteration", "config.num_train_steps", ()
    flops_per_step = 0.0

    def __init__(self, config):
        self.config, s = config, config.search
        self.num_steps = config.num_train_steps
        self.log_every, self.eval_every = config.log_every_steps, config.eval_every_steps
        self.checkpoint_every, self.keep_checkpoints = config.checkpoint_every_steps, config.keep_checkpoints
        self.method = lookup("search method", s.method, {"nas": "nas", "random": "random"})
        self.children = s.children
        self.controller = models.get(config.model.name, **config.model.kwargs)
        self.layers = self.controller.layers
        self.task = tasks.get("sequence_reinforce", entropy_weight=s.entropy_weight)
        self.tx, _ = optim.create(config.optimizer, self.num_steps)
        self.child = models.get(s.child.name, **{**s.child.kwargs, "layers": self.layers})   # the controller's
        self.child_task = tasks.get("classification")
        self.child_tx, _ = optim.create(s.child.optimizer, s.child_steps)
        self.train, self.validation = search_split(config.dataset.name, s.validation_fraction)
        self.key = jax.random.key(config.seed)
        self._controller_step = make_train_step(self.controller, self.task, self.tx, seed=config.seed)
        self._sample_jit = jax.jit(self._sample)
        self._update_jit = jax.jit(self._update, donate_argnums=0)

    def _init(self):
        tokens = jnp.zeros((2, self.controller.num_tokens), jnp.int32)
        controller = create_train_state(self.controller, self.tx, (tokens,), seed=self.config.seed)
        return {"controller": controller, "baseline": jnp.zeros(()),
                "tokens": jnp.zeros((self.num_steps, self.children, self.controller.num_tokens), jnp.int32),
                "rewards": jnp.full((self.num_steps, self.children), jnp.nan)}

    def abstract_state(self):
        """The state's ShapeDtypeStructs: the restore target."""
        return jax.eval_shape(self._init)

    def init(self):
        """A fresh controller from config.seed, a zero baseline and an empty history."""
        return jax.jit(self._init)()

    def begin(self, step: int):
        """Nothing to open: the search split lives on the device, batches are drawn from the step's key."""

    def _child_programs(self):
        """The jitted pieces of a child training: init, one train step, evaluation, each over a group of children
        (vmapped), and the batches' indices."""
        s, n = self.config.search, len(self.train["label"])
        example = self.train["input"][:2]
        step = make_train_step(self.child, self.child_task, self.child_tx, seed=0)
        evaluate = make_eval_step(self.child, self.child_task)
        validation = {**self.validation, "mask": jnp.ones(len(self.validation["label"]))}
        self._init_children = jax.jit(jax.vmap(lambda tokens, seed: create_train_state(
            self.child, self.child_tx, (example, tokens), seed=seed)))
        self._child_step = jax.jit(jax.vmap(lambda state, idx, seed: step(
            state, {"input": self.train["input"][idx], "label": self.train["label"][idx]}, seed)[0],
            in_axes=(0, None, 0)), donate_argnums=0)
        self._child_accuracy = jax.jit(jax.vmap(lambda state: jnp.divide(*evaluate(state, validation)["accuracy"])))
        self._batches = jax.jit(lambda key: jax.vmap(lambda t: jax.random.choice(
            jax.random.fold_in(key, t), n, (s.child_batch_size,), replace=False))(jnp.arange(s.child_steps)))

    def train_children(self, tokens, key):
        """tokens (children, T) -> each child's accuracy (children,) on the validation part, after child_steps
        steps of the train step from its own initialisation (seeds from `key`), all on the same batches.
        config.search.vmapped children train at once (vmap), the groups one after another; the steps are
        dispatched one by one. On XLA:CPU both choices are forced: vmapped convolutions with one kernel per child
        become grouped convolutions (4x slower here than one child after another), and convolution gradients
        inside a compiled loop (lax.scan, lax.map) run ~20x slower than the same step dispatched alone."""
        if not hasattr(self, "_init_children"):
            self._child_programs()
        seeds = jax.random.randint(jax.random.fold_in(key, _CHILDREN), (len(tokens),), 0, 2 ** 31 - 1)
        batches = self._batches(jax.random.fold_in(key, _BATCHES))
        k, accuracies = self.config.search.vmapped, []
        for start in range(0, len(tokens), k):
            group = slice(start, start + k)
            states = self._init_children(tokens[group], seeds[group])
            for t in range(self.config.search.child_steps):
                states = self._child_step(states, batches[t], seeds[group])
            accuracies.append(self._child_accuracy(states))
        return jnp.concatenate(accuracies)

    def _sample(self, state, step):
        key = jax.random.fold_in(jax.random.fold_in(self.key, step), _SAMPLE)
        return self.controller.apply({"params": state["controller"].params}, key, self.children,
                                     self.method == "random", method="sample")[0]

    def _update(self, state, step, tokens, rewards):
        controller = state["controller"]
        baseline = jnp.where(step == 1, rewards.mean(), state["baseline"])      # the first batch sets it
        metrics = {"reward": metrics_lib.pair(rewards, 1.0), "reward_max": metrics_lib.pair(rewards.max(), 1.0),
                   "baseline": metrics_lib.pair(baseline, 1.0)}
        if self.method == "nas":
            controller, update = self._controller_step(controller, {"tokens": tokens, "advantages": rewards - baseline})
            metrics.update(update)
        decay = self.config.search.baseline_decay
        return {"controller": controller, "baseline": decay * baseline + (1 - decay) * rewards.mean(),
                "tokens": state["tokens"].at[step - 1].set(tokens),
                "rewards": state["rewards"].at[step - 1].set(rewards)}, metrics

    def run(self, state, step: int):
        """One iteration, dispatched: sample, train the children, update the controller -> (state, {name: (sum,
        count)})."""
        step = jnp.int32(step)
        tokens = self._sample_jit(state, step)
        rewards = self.train_children(tokens, jax.random.fold_in(self.key, step))
        return self._update_jit(state, step, tokens, rewards)

    def train_records(self, metrics, step: int) -> list[dict]:
        """One "train" record: the mean reward of the children since the last record, the mean of each
        step's best, the baseline and the controller's metrics."""
        return [{"split": "train", **metrics_lib.means(metrics)}]

    def best(self, state, top: int = TOP) -> list[tuple[float, str, list]]:
        """The `top` children so far, best first: (reward, description, tokens)."""
        rewards, tokens = np.asarray(state["rewards"]).ravel(), np.asarray(state["tokens"]).reshape(-1, self.controller.num_tokens)
        seen = np.flatnonzero(np.isfinite(rewards))
        order = seen[np.argsort(-rewards[seen], kind="stable")][:top]
        return [(float(rewards[i]), self.controller.describe(tokens[i]), tokens[i].tolist()) for i in order]

    def evaluate(self, state, step: int):
        """A "search" record: the best reward so far and the mean of the top five."""
        best = self.best(state)
        return state, [{"split": "search", "children": step * self.children, "best_reward": best[0][0],
                        f"top{TOP}_reward": float(np.mean([b[0] for b in best]))}]

    def summary(self, state, records) -> dict:
        """results.json: the children trained, the best reward and the top five's mean, their architectures."""
        best = self.best(state)
        return {"children": int(np.isfinite(np.asarray(state["rewards"])).sum()), "best_reward": best[0][0],
                f"top{TOP}_reward": float(np.mean([b[0] for b in best])),
                "best_architectures": [b[1] for b in best], "best_tokens": [b[2] for b in best]}

    def plot(self, records, path):
        """The children's mean and best reward per logged step (plots/curves.learning_curves)."""
        from deepzoo.plots import curves
        curves.learning_curves(records, path)


def search(config, workdir, *, allow_changes: bool = False) -> dict:
    """Runs the architecture search of `config` in `workdir` (resuming from its checkpoint); returns the summary."""
    return loop.run(ArchitectureSearch(config), workdir, allow_changes=allow_changes)

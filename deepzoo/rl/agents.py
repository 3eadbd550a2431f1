"""Agents: config.seeds RL agents trained at once (vmap), a program of the one run loop (train/loop.py).

    config.agent.name: "dqn" | "ppo" | "reinforce"; config.env.name, num_envs; config.model (a Q-network
    or an actor-critic from the zoo); config.optimizer (train/optim.py); config.seeds agents at once
    -> the loop's step ("chunk"): one jitted lax.scan of config.iterations_per_chunk agent iterations
       for every seed; then a greedy evaluation (config.eval_episodes per seed) that also keeps each
       seed's best policy so far in the state, and a checkpoint
    -> at the end: those best policies played on fresh episodes (best_return: early stopping, which
       DQN's unstable late training needs), beside the last policies' return (eval_return)
metrics.jsonl holds one record per seed and chunk ("member": "seed<i>"); learning_curves.png shows the
seeds' mean and spread of the evaluation return.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from deepzoo import models
from deepzoo.plots import curves
from deepzoo.registry import lookup
from deepzoo.rl import envs
from deepzoo.rl.dqn import DQN
from deepzoo.rl.ppo import PolicyGradient
from deepzoo.train import loop, optim

# Random streams, folded into key(config.seed): each use of randomness draws from its own.
_AGENTS, _EVALUATION, _BEST_REPLAY = 0, 1, 2


def evaluation_key(seed: int, chunk: int):
    """The key of the greedy evaluation after `chunk`: replaying a saved policy with it gives its score."""
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), _EVALUATION), chunk)


def num_updates(config) -> int:
    """Optimizer updates in the whole run (the learning-rate schedule's length)."""
    iterations, kw = config.num_chunks * config.iterations_per_chunk, config.agent.kwargs
    per_iteration = {"ppo": lambda: kw.get("epochs", 4) * kw.get("minibatches", 4), "reinforce": lambda: 1,
                     "dqn": lambda: kw.get("gradient_steps", 1)}
    return max(int(iterations * lookup("agent", config.agent.name, per_iteration)()), 1)


def _limits(config) -> dict:
    return {"max_frames": config.env.max_frames} if "max_frames" in config.env else {}


def make_agent(config):
    """The agent config.agent describes, in its environment, with its network and optimizer."""
    env = envs.make(config.env.name, config.env.num_envs, **_limits(config))
    network = models.get(config.model.name, **config.model.kwargs)
    if tuple(network.obs_shape) != env.obs_shape or network.num_actions != env.num_actions:
        raise ValueError(f"{config.model.name} (config.model) takes observations {tuple(network.obs_shape)} and has "
                         f"{network.num_actions} actions, but {config.env.name} gives observations {env.obs_shape} "
                         f"and has {env.num_actions} actions: set config.model.kwargs.obs_shape={env.obs_shape} and "
                         f"num_actions={env.num_actions}.")
    tx, _ = optim.create(config.optimizer, num_updates(config))
    kind = lookup("agent", config.agent.name, {"dqn": DQN, "ppo": PolicyGradient, "reinforce": PolicyGradient})
    kwargs = dict(config.agent.kwargs)
    if kind is PolicyGradient:
        kwargs["algorithm"] = config.agent.name
    return kind(env, network, tx, **kwargs)


def _per_seed(info) -> dict:
    """A chunk's info (seeds, iterations, ...) -> {name: (sum, count)} per seed over the finite values
    (returns are NaN where no episode ended; DQN's loss before learning starts)."""
    def pair(x):
        x = x.reshape(x.shape[0], -1)
        finite = jnp.isfinite(x)
        return jnp.sum(jnp.where(finite, x, 0.0), axis=1), jnp.sum(finite, axis=1).astype(jnp.float32)
    return {("train_return" if k == "returns" else k): pair(v) for k, v in info.items()}


class Agents:
    """The state is {"agents": the seeds' agent states, "best_params", "best_return"}."""
    unit, steps_field = "chunk", "config.num_chunks"
    log_every = eval_every = checkpoint_every = 1
    keep_checkpoints, flops_per_step = 2, 0.0

    def __init__(self, config):
        self.config, self.agent = config, make_agent(config)
        self.num_steps, chunk = config.num_chunks, config.iterations_per_chunk
        self.members = tuple(f"seed{i}" for i in range(config.seeds))
        self.env_steps_per_chunk = chunk * self.agent.env_steps_per_iteration
        self.key = jax.random.key(config.seed)
        run = jax.vmap(lambda s: jax.lax.scan(self.agent.step, s, None, length=chunk))
        self._run = jax.jit(lambda s: (lambda out: (out[0], _per_seed(out[1])))(run(s)), donate_argnums=0)
        eval_env = envs.make(config.env.name, config.eval_episodes, evaluation=True, **_limits(config))
        self._evaluate = jax.jit(jax.vmap(lambda p, k: envs.episode_returns(
            eval_env, functools.partial(self.agent.act_greedy, p), k), in_axes=(0, None)))
        self._keep_best = jax.jit(lambda s, r: {**s, "best_params": jax.tree.map(
            lambda b, p: jnp.where((r > s["best_return"]).reshape(-1, *[1] * (p.ndim - 1)), p, b),
            s["best_params"], s["agents"].params), "best_return": jnp.maximum(r, s["best_return"])})

    def _init(self):  # the agents, and each seed's best policy so far (by its greedy evaluation)
        keys = jax.random.split(jax.random.fold_in(self.key, _AGENTS), len(self.members))
        agents = jax.vmap(self.agent.init)(keys)
        return {"agents": agents, "best_params": agents.params, "best_return": jnp.full(len(self.members), -jnp.inf)}

    def abstract_state(self):
        """The ShapeDtypeStructs of init()'s state: the checkpoint's restore target."""
        return jax.eval_shape(self._init)

    def init(self):
        """A fresh state: every seed's agent from its own key (folded from config.seed), best_params its
        initial parameters, best_return -inf."""
        return jax.jit(self._init)()

    def begin(self, step: int):
        """Nothing to open: the environments are part of the agents' state."""
        pass

    def run(self, state, step: int):
        """One chunk, dispatched: config.iterations_per_chunk iterations of every seed's agent ->
        (state, {name: (sum, count)} per seed over the finite values)."""
        agents, metrics = self._run(state["agents"])
        return {**state, "agents": agents}, metrics

    def train_records(self, metrics, step: int) -> list[dict]:
        """One "train" record per seed: env_steps and the mean of each metric, left out where the
        seed had no finite value (no episode ended, no update yet)."""
        means = {k: np.asarray(s) / np.maximum(np.asarray(c), 1) for k, (s, c) in metrics.items()}
        return [{"split": "train", "member": seed, "env_steps": step * self.env_steps_per_chunk,
                 **{k: float(v[i]) for k, v in means.items() if metrics[k][1][i] > 0}}
                for i, seed in enumerate(self.members)]

    def evaluate(self, state, step: int):
        """Plays every seed's greedy policy for config.eval_episodes episodes (the key of
        evaluation_key(config.seed, step)) and keeps each seed's best parameters so far -> (state, one "eval"
        record per seed with its mean return)."""
        returns = self._evaluate(state["agents"].params, evaluation_key(self.config.seed, step)).mean(1)
        state = self._keep_best(state, returns)
        return state, [{"split": "eval", "member": seed, "env_steps": step * self.env_steps_per_chunk, "return": float(r)}
                       for seed, r in zip(self.members, np.asarray(returns))]

    def summary(self, state, records) -> dict:
        """results.json's values from the latest records: the evaluation returns (mean, worst seed,
        each seed), the mean training return, and each seed's best policy played again on fresh episodes
        (best_return, best_return_min_seed, best_return_seed<i>)."""
        evals = [r["return"] for r in records if r["split"] == "eval"]
        trains = [r["train_return"] for r in records if r["split"] == "train" and "train_return" in r]
        # Each seed's best policy, played again on fresh episodes: the choice saw the others, so their score
        # is optimistic (as a validation score is); these are not.
        best = np.asarray(self._evaluate(state["best_params"], jax.random.fold_in(self.key, _BEST_REPLAY)).mean(1))
        return {"env_steps": max((r["env_steps"] for r in records), default=0),
                "eval_return": float(np.mean(evals)), "eval_return_min_seed": float(np.min(evals)),
                "train_return": float(np.mean(trains)) if trains else 0.0,
                **{f"return_seed{i}": float(r) for i, r in enumerate(evals)},
                "best_return": float(best.mean()), "best_return_min_seed": float(best.min()),
                **{f"best_return_seed{i}": float(r) for i, r in enumerate(best)}}

    def plot(self, records, path):
        """Draws the seeds' evaluation returns against environment steps (curves.seed_returns) into `path`."""
        curves.seed_returns(records, path, f"{self.config.agent.name} on {self.config.env.name}",
                            self.config.env.get("solved_at"))


def train_agent(config, workdir, *, allow_changes: bool = False) -> dict:
    """Trains config.seeds agents in `workdir` (resuming from its checkpoint); returns the summary."""
    return loop.run(Agents(config), workdir, allow_changes=allow_changes)

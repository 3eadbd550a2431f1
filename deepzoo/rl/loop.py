"""train_agent(config, workdir): the RL loop, with the trainer's conventions (trainer.py).

    config.agent.name: "dqn" | "ppo" | "reinforce"; config.env.name, num_envs; config.model (a Q-network
    or an actor-critic from the zoo); config.optimizer (train/optim.py); config.seeds agents at once
    -> one jitted lax.scan of config.iterations_per_chunk agent iterations for every seed (vmap)
    -> after each chunk: greedy evaluation (config.eval_episodes per seed), metrics.jsonl, a checkpoint
       that also keeps each seed's best policy so far
    -> at the end: those best policies played on fresh episodes (best_return: early stopping, which
       DQN's unstable late training needs), beside the last policies' return (eval_return)
A run started on a workdir with a checkpoint resumes from it to the same numbers; SIGTERM/SIGINT save
and stop (raising trainer.Stopped). learning_curves.png shows the seeds' mean and spread of the evaluation return.
"""
import functools
import time

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

from deepzoo import models
from deepzoo.registry import lookup
from deepzoo.rl import envs
from deepzoo.rl.dqn import DQN
from deepzoo.rl.ppo import PolicyGradient
from deepzoo.train import files, optim
from deepzoo.train.checkpoint import Checkpoints
from deepzoo.train.trainer import Stopped, StopSignal
from deepzoo.train.writers import MetricWriter, Progress, read_metrics


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


def draw_returns(ax, rows, title: str, solved_at: float | None = None):
    """The seeds' mean greedy return and its min-max band against environment steps, from eval rows."""
    steps = np.array([r["env_steps"] for r in rows])
    returns = np.array([[v for k, v in r.items() if k.startswith("return_seed")] for r in rows])
    ax.plot(steps, returns.mean(1), label=f"mean of {returns.shape[1]} seeds")
    ax.fill_between(steps, returns.min(1), returns.max(1), alpha=0.25, label="min-max over seeds")
    if solved_at is not None:
        ax.axhline(solved_at, color="k", ls=":", lw=1, label=f"solved ({solved_at:g})")
    ax.set(xlabel="environment steps", title=title)
    ax.grid(alpha=0.3)


def _plot(workdir, config):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    rows = [r for r in read_metrics(workdir) if r.get("split") == "eval"]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    draw_returns(ax, rows, f"{config.agent.name} on {config.env.name}", config.env.get("solved_at"))
    ax.set_ylabel("greedy evaluation return")
    ax.legend()
    fig.tight_layout()
    fig.savefig(files.path(workdir) / "learning_curves.png", dpi=120)
    plt.close(fig)


def train_agent(config, workdir) -> dict:
    workdir = files.path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    agent = make_agent(config)
    chunk, chunks = config.iterations_per_chunk, config.num_chunks
    per_iteration = agent.env_steps_per_iteration
    seeds = config.seeds

    def init(keys):  # the agents, and each seed's best policy so far (by its greedy evaluation)
        agents = jax.vmap(agent.init)(keys)
        return {"agents": agents, "best_params": agents.params, "best_return": jnp.full(seeds, -jnp.inf)}

    keys = jax.random.split(jax.random.key(config.seed), seeds)
    checkpoints = Checkpoints(workdir / "checkpoints", max_to_keep=2)
    state = checkpoints.restore(jax.eval_shape(init, keys))
    if state is None:
        state = jax.jit(init)(keys)
    done = int(np.asarray(state["agents"].step)[0]) // chunk   # step counts iterations
    (workdir / ("config.json" if done == 0 else f"config.resumed_at_{done}.json")).write_text(
        config.to_json_best_effort(indent=2))
    run = jax.jit(jax.vmap(lambda s: jax.lax.scan(agent.step, s, None, length=chunk)), donate_argnums=0)
    eval_env = envs.make(config.env.name, config.eval_episodes, evaluation=True, **_limits(config))
    evaluate = jax.jit(jax.vmap(lambda p, k: envs.episode_returns(
        eval_env, functools.partial(agent.act_greedy, p), k), in_axes=(0, None)))
    keep_best = jax.jit(lambda s, r: {**s, "best_params": jax.tree.map(
        lambda b, p: jnp.where((r > s["best_return"]).reshape(-1, *[1] * (p.ndim - 1)), p, b),
        s["best_params"], s["agents"].params), "best_return": jnp.maximum(r, s["best_return"])})
    writer, progress = MetricWriter(workdir, resume_step=done), Progress(done, chunks)
    last = [r for r in read_metrics(workdir) if r.get("split") == "eval"][-1:] if done else []
    results = {k: v for k, v in (last[0] if last else {}).items() if k not in ("step", "split")}
    stopped, started, seconds = False, time.perf_counter(), results.get("seconds", 0.0)   # seconds: over resumes
    try:
        with StopSignal() as stop:
            for c in range(done + 1, chunks + 1):
                agents, info = run(state["agents"])
                returns = np.asarray(evaluate(agents.params, jax.random.key(config.seed + 10_000 * c)))
                state = keep_best({**state, "agents": agents}, returns.mean(1))
                finished = np.asarray(info["returns"])
                results = {"env_steps": c * chunk * per_iteration, "seconds": seconds + time.perf_counter() - started,
                           "eval_return": float(returns.mean()),
                           "eval_return_min_seed": float(returns.mean(1).min()),
                           "train_return": float(np.nanmean(finished)) if np.isfinite(finished).any() else 0.0,
                           **{f"return_seed{i}": float(r) for i, r in enumerate(returns.mean(1))}}
                writer.write(c, "eval", results)
                writer.flush()
                progress(c, {k: v for k, v in results.items() if not k.startswith("return_seed") and k != "seconds"})
                checkpoints.save(c, state)
                stopped = stop.requested(sync=True)
                if stopped:
                    break
    finally:
        checkpoints.wait()
        checkpoints.close()
        writer.close()
    if not stopped:
        # Each seed's best policy, played again on fresh episodes: the choice saw the others, so their score
        # is optimistic (as a validation score is); these are not.
        best = np.asarray(evaluate(state["best_params"], jax.random.key(config.seed + 1)).mean(1))
        results.update({"best_return": float(best.mean()), "best_return_min_seed": float(best.min()),
                        **{f"best_return_seed{i}": float(r) for i, r in enumerate(best)}})
    _plot(workdir, config)
    files.write_json(workdir / "results.json", results)
    if stopped:
        raise Stopped(f"stopped by a signal after chunk {c} of {chunks}; rerun the same command to resume.")
    return results

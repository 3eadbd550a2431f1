"""Environment steps per second with the environment inside jit, for one agent and for a vmapped population.

    .venv/bin/python benchmarks/rl_env.py      # writes benchmarks/results/rl_env.json

Three measurements on CartPole-v1 (gymnax), each best of 3 once compiled:
  environment  random actions in N environments, one lax.scan of 1,000 steps (vmap over N), against
               gymnasium's CartPole stepped from Python (the usual loop outside jit);
  agents       whole training iterations of configs/classic_control.py's PPO and DQN, rollouts and updates,
               for 1 seed and for populations of seeds (vmap over the agent state, as rl/agents.py runs them).
"""
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import write  # noqa: E402

from deepzoo import config as config_lib  # noqa: E402
from deepzoo.rl import envs  # noqa: E402
from deepzoo.rl.agents import make_agent  # noqa: E402


def best_time(fn, repeats=3) -> float:
    jax.block_until_ready(fn())  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def environment(num_envs: int, length: int = 1_000) -> float:
    env = envs.make("CartPole-v1", num_envs)

    @jax.jit
    def run(key):
        def step(carry, k):
            state, total = carry
            k_act, k_env = jax.random.split(k)
            actions = jax.random.randint(k_act, (num_envs,), 0, env.num_actions)
            _, state, reward, *_ = env.step(k_env, state, actions)
            return (state, total + reward.sum()), None
        _, state = env.reset(key)
        return jax.lax.scan(step, (state, jnp.zeros(())), jax.random.split(key, length))[0][1]

    return num_envs * length / best_time(lambda: run(jax.random.key(0)))


def gymnasium_loop(num_steps: int = 20_000) -> float:
    import gymnasium  # noqa: PLC0415

    env, rng = gymnasium.make("CartPole-v1"), np.random.default_rng(0)
    env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(num_steps):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
        if terminated or truncated:
            env.reset()
    return num_steps / (time.perf_counter() - start)


def agents(name: str, seeds: int, iterations: int) -> float:
    config = config_lib.load(f"configs/classic_control.py:cartpole,{name}")
    agent = make_agent(config)
    states = jax.jit(jax.vmap(agent.init))(jax.random.split(jax.random.key(0), seeds))
    run = jax.jit(jax.vmap(lambda s: jax.lax.scan(agent.step, s, None, length=iterations)[0]))
    # DQN past learning_starts, so that every iteration also trains
    states = run(states)
    return seeds * iterations * agent.env_steps_per_iteration / best_time(lambda: run(states))


def main():
    figures = {"environment": "CartPole-v1 (gymnax), random actions, 1,000 steps in one lax.scan",
               "env_steps_per_sec": {n: round(environment(n)) for n in (1, 8, 64, 512, 4096)},
               "gymnasium_python_loop_steps_per_sec": round(gymnasium_loop()),
               "agents": "training iterations (rollouts + updates) of configs/classic_control.py, vmapped over seeds",
               "ppo_env_steps_per_sec": {s: round(agents("ppo", s, 8)) for s in (1, 8, 32)},
               "dqn_env_steps_per_sec": {s: round(agents("dqn", s, 4)) for s in (1, 8, 32)}}
    write("rl_env", figures)


if __name__ == "__main__":
    main()

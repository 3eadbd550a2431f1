"""Environments that run inside jit: gymnax's (Lange 2022), vectorised with vmap.

    env = envs.make("CartPole-v1", num_envs=8)
    obs, state = env.reset(key)                            # obs (8, 4)
    obs, state, reward, terminated, truncated, final_obs = env.step(key, state, actions)
Every environment resets itself when its episode ends (gymnax's auto-reset): `obs` is then the new
episode's first observation and `final_obs` the last one of the old episode, which a value target
needs when the episode was cut by the time limit (truncated) rather than ended (terminated).
"""
import dataclasses
from typing import Any

import jax

from deepzoo.registry import lookup

# Classic control: every one of them solvable on a CPU in minutes. Atari games ("ALE/Breakout-v5")
# run on the host in ale-py's emulators (rl/atari.py; configs/atari_dqn.py).
KNOWN = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0")


@dataclasses.dataclass(frozen=True)
class VecEnv:
    """A gymnax environment (Lange 2022) and its params, vmapped over num_envs copies that reset
    themselves at the end of each episode."""
    env: Any
    params: Any
    num_envs: int

    @property
    def obs_shape(self) -> tuple:
        """The shape of one environment's observation."""
        return tuple(self.env.observation_space(self.params).shape)

    @property
    def num_actions(self) -> int:
        """The number of discrete actions."""
        return int(self.env.action_space(self.params).n)

    @property
    def max_steps(self) -> int:
        """The episode time limit, in steps."""
        return int(self.params.max_steps_in_episode)

    def reset(self, key):
        """(obs (num_envs, *obs_shape), state) of num_envs new episodes, each from its own key split from `key`."""
        return jax.vmap(self.env.reset, in_axes=(0, None))(jax.random.split(key, self.num_envs), self.params)

    def step(self, key, state, actions):
        """One step of every environment with actions (num_envs,) -> (obs, state, reward, terminated,
        truncated, final_obs); an ended episode restarts at once and final_obs holds its last observation."""
        obs, state, reward, terminated, truncated, info = jax.vmap(self.env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(key, self.num_envs), state, actions, self.params)
        return obs, state, reward, terminated, truncated, info["final_observation"]


def make(name: str, num_envs: int = 1, *, evaluation: bool = False, max_frames: int = 108_000) -> VecEnv:
    """`evaluation`: the environment that scores policies; for Atari whole games with their raw scores,
    each at most `max_frames` frames (gymnax's tasks have their own time limits)."""
    import gymnax

    if name.startswith("ALE/"):
        from deepzoo.rl import atari  # noqa: PLC0415
        return atari.make(name[len("ALE/"):].split("-v")[0], num_envs, evaluation=evaluation, max_frames=max_frames)
    lookup("environment", name, {**{k: k for k in KNOWN}, "ALE/<Game>-v5 (Atari)": None})
    env, params = gymnax.make(name)
    return VecEnv(env, params, num_envs)


def episode_returns(env: VecEnv, policy, key):
    """The return of one episode in each of env.num_envs environments under `policy(obs) -> actions`
    (deterministic, e.g. greedy): every environment runs to its first episode's end, then is ignored."""
    obs, state = env.reset(key)

    def step(carry, k):
        obs, state, total, running = carry
        obs, state, reward, terminated, truncated, _ = env.step(k, state, policy(obs))
        total = total + reward * running
        return (obs, state, total, running & ~(terminated | truncated)), None

    init = (obs, state, jax.numpy.zeros(env.num_envs), jax.numpy.ones(env.num_envs, bool))
    (_, _, total, _), _ = jax.lax.scan(step, init, jax.random.split(key, env.max_steps))
    return total

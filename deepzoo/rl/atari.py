"""Atari 2600 games (the Arcade Learning Environment) behind the VecEnv interface of rl/envs.py.

The emulators run on the host, in ale-py's C++ vector environment (its threads step the games and do
the Nature paper's preprocessing: 4 frames repeated per action with the max of the last two, 84x84
greyscale, the last 4 frames stacked, up to 30 no-ops at the start, FIRE to start, rewards clipped to
[-1, 1] in training). The agent calls them from inside jit through `jax.experimental.io_callback`, so
DQN's lax.scan over agent steps, its replay buffer and its learner stay on the device; only each
step's actions go out and its observations come back.

    pip install ale-py      # the emulator and the game ROMs (about 3 MB)
    env = atari.make("Breakout", num_envs=4)     # obs (4, 84, 84, 4) uint8, the newest frame last

Not like gymnax: the games' state lives on the host, so one seed per run (no vmap over seeds), and a
resumed run starts new episodes rather than continuing the interrupted ones.
"""
import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback


@dataclasses.dataclass(frozen=True, eq=False)
class AtariVecEnv:
    """`num_envs` Atari games in ale-py's vector environment behind VecEnv's interface, stepped on
    the host through io_callback. Observations (num_envs, 84, 84, 4) uint8, the newest frame last; the
    state that reset and step pass around is a placeholder (the games' state is on the host)."""
    game: str
    num_envs: int
    envs: Any                     # ale_py.vector_env.AtariVectorEnv
    max_steps: int                # agent steps per episode at most (108,000 frames / 4)

    obs_shape = (84, 84, 4)

    @property
    def num_actions(self) -> int:
        """The number of actions of the game's action space in ale-py."""
        return int(self.envs.single_action_space.n)

    def _obs_struct(self):
        return jax.ShapeDtypeStruct((self.num_envs, *self.obs_shape), jnp.uint8)

    def _host_reset(self, seed):
        obs, _ = self.envs.reset(seed=int(seed))
        return np.ascontiguousarray(obs.transpose(0, 2, 3, 1))

    def _host_step(self, actions):
        obs, reward, terminated, truncated, info = self.envs.step(np.asarray(actions))
        final = info.get("final_obs", obs)
        final = np.where((terminated | truncated)[:, None, None, None], final, obs)
        to_hwc = lambda x: np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        return (to_hwc(obs), reward.astype(np.float32), terminated.astype(bool), truncated.astype(bool),
                to_hwc(final))

    def reset(self, key):
        """Starts new games seeded from `key` -> (obs (num_envs, 84, 84, 4) uint8, placeholder state)."""
        seed = jax.random.randint(key, (), 0, 2**31 - 1)
        obs = io_callback(self._host_reset, self._obs_struct(), seed)
        return obs, jnp.zeros(self.num_envs)          # the games' state is on the host

    def step(self, key, state, actions):
        """One agent step of every game -> (obs, state, reward, terminated, truncated, final_obs),
        as VecEnv.step: a game that ends restarts at once, final_obs holding its last observation."""
        n = self.num_envs
        shapes = (self._obs_struct(), jax.ShapeDtypeStruct((n,), jnp.float32), jax.ShapeDtypeStruct((n,), bool),
                  jax.ShapeDtypeStruct((n,), bool), self._obs_struct())
        obs, reward, terminated, truncated, final_obs = io_callback(self._host_step, shapes,
                                                                    actions.astype(jnp.int32))
        return obs, state, reward, terminated, truncated, final_obs


def make(game: str, num_envs: int, *, evaluation: bool = False, max_frames: int = 108_000) -> AtariVecEnv:
    """`game` as ale-py names it ("Breakout", "Pong", ...). Training clips rewards and, as Mnih et al.,
    ends an episode at each lost life; evaluation plays whole games with the raw score."""
    try:
        from ale_py.vector_env import AtariVectorEnv  # noqa: PLC0415
    except ImportError as e:
        raise ImportError("Atari games need the Arcade Learning Environment: pip install ale-py "
                          "(or pip install -e '.[atari]'); it ships the game ROMs.") from e
    rom = game.lower().replace("-", "_")
    try:
        envs = AtariVectorEnv(game=rom, num_envs=num_envs, autoreset_mode="SameStep",
                              max_num_frames_per_episode=max_frames, reward_clipping=not evaluation,
                              episodic_life=not evaluation, repeat_action_probability=0.0)
    except Exception as e:  # noqa: BLE001  ale-py raises a bare error for a ROM it does not have
        raise ValueError(f"ale-py has no game {game!r} ({type(e).__name__}: {e}); names are as in "
                         f"ale_py.roms.get_all_rom_ids(), e.g. Breakout, Pong, SpaceInvaders.") from e
    return AtariVecEnv(game, num_envs, envs, max_steps=max_frames // 4)

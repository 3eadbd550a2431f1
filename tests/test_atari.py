"""Atari through ale-py inside jit: the Nature preprocessing's frame stack, the replay memory that keeps one
frame per transition, bad names, and the Nature recipe end to end on real Pong (a few hundred steps)."""
import jax
import numpy as np
import optax
import pytest

from deepzoo.models.dqn import NatureDQN
from deepzoo.rl import envs
from deepzoo.rl.dqn import DQN


def dqn_on_pong(stacked_frames):
    env = envs.make("ALE/Pong-v5", num_envs=2, max_frames=200)   # episodes of 50 agent steps
    return DQN(env, NatureDQN(num_actions=env.num_actions), optax.adam(1e-4), buffer_size=128, batch_size=4,
               learning_starts=1_000, stacked_frames=stacked_frames)


def test_pong_frames_are_84x84_greyscale_stacks_with_the_newest_last():
    env = envs.make("ALE/Pong-v5", num_envs=2, max_frames=200)
    assert env.obs_shape == (84, 84, 4) and env.num_actions == 6

    @jax.jit
    def run(key):
        obs, state = env.reset(key)

        def step(carry, k):
            obs, state = carry
            new, state, reward, terminated, truncated, final = env.step(k, state, jax.numpy.array([2, 3]))
            return (new, state), (obs, new, final, terminated | truncated)
        return jax.lax.scan(step, (obs, state), jax.random.split(key, 60))[1]

    before, after, final, done = map(np.asarray, run(jax.random.key(0)))
    assert after.dtype == np.uint8 and after.shape == (60, 2, 84, 84, 4) and after.max() > after.min()
    # s' = s shifted by one frame: within an episode, and at its end for the last observation it kept
    np.testing.assert_array_equal(final[..., :3], before[..., 1:])
    np.testing.assert_array_equal(after[~done][..., :3], before[~done][..., 1:])
    assert done[49].all() and not done[:49].any()   # the 200-frame limit: 50 agent steps


@pytest.mark.slow
def test_replay_memory_of_one_frame_per_transition_rebuilds_every_next_observation():
    full, compact = dqn_on_pong(False), dqn_on_pong(True)
    run = jax.jit(lambda s: jax.lax.scan(full.step, s, None, length=60)[0])
    buffer = jax.device_get(run(full.init(jax.random.key(1))).buffer)   # 120 transitions, two episode ends
    rebuilt = compact.task.next_obs({"obs": buffer["obs"], "next": buffer["next"][..., -1:]})
    np.testing.assert_array_equal(rebuilt, buffer["next"])
    assert compact.init(jax.random.key(1)).buffer["next"].shape == (128, 84, 84, 1)


def test_an_unknown_game_is_named():
    with pytest.raises(ValueError, match="no game 'Pacmann'.*Breakout, Pong"):
        envs.make("ALE/Pacmann-v5")


@pytest.mark.slow
def test_the_nature_recipe_runs_end_to_end_on_pong(tmp_path):
    from deepzoo import config as config_lib
    from deepzoo.rl.agents import train_agent
    config = config_lib.load("configs/atari_dqn.py:Pong,smoke")
    assert config.agent.kwargs.buffer_size == 512 and config_lib.load("configs/atari_dqn.py:Pong").agent.kwargs[
        "buffer_size"] == 1_000_000
    results = train_agent(config, tmp_path)
    assert results["env_steps"] == 320 and -21 <= results["eval_return"] <= 21 and "best_return" in results

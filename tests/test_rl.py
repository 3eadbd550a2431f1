"""Deep RL building blocks: the Nature network's size, gymnax environments under vmap, and DQN's
target, replay buffer and target network against their definitions."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from deepzoo import models
from deepzoo.models.dqn import QNetwork
from deepzoo.rl import envs
from deepzoo.rl.dqn import DQN


def test_nature_dqn_has_1686180_parameters_for_4_actions_and_names_a_wrong_observation():
    assert models.summary("dqn_nature", quiet=True).params == 1_686_180
    net = models.get("dqn_nature")
    variables = jax.eval_shape(net.init, jax.random.key(0), jnp.zeros((1, 84, 84, 4)))
    with pytest.raises(ValueError, match=r"expects observations of shape \(batch, 84, 84, 4\); got \(1, 4\)"):
        jax.eval_shape(lambda v: net.apply(v, jnp.zeros((1, 4))), variables)


def test_environments_by_name_vectorised():
    with pytest.raises(KeyError, match="Did you mean 'CartPole-v1'.*Known environments: Acrobot-v1, CartPole-v1"):
        envs.make("Cartpole-v1")
    env = envs.make("CartPole-v1", num_envs=100)
    assert env.obs_shape == (4,) and env.num_actions == 2 and env.max_steps == 500
    # Pushing the cart always left topples the pole in 8-11 steps from CartPole's near-upright starts.
    returns = jax.jit(lambda k: envs.episode_returns(env, lambda obs: jnp.zeros(obs.shape[0], jnp.int32), k))(
        jax.random.key(0))
    assert returns.shape == (100,) and 8 <= float(returns.min()) and float(returns.max()) <= 11


def agent(**kwargs):
    env = envs.make("CartPole-v1", num_envs=4)
    defaults = dict(buffer_size=64, batch_size=16, learning_starts=32, target_every=3, eps_decay_steps=10)
    return DQN(env, QNetwork(num_actions=2, obs_shape=(4,), hidden=(16,)), optax.adam(1e-3), **{**defaults, **kwargs})


@pytest.mark.parametrize("double", [False, True])
def test_dqn_target_is_the_bellman_backup_written_out(double):
    a = agent(double=double, gamma=0.9)
    state = a.init(jax.random.key(0))
    rng = np.random.default_rng(0)
    batch = {"obs": jnp.asarray(rng.normal(size=(6, 4)), jnp.float32), "action": jnp.array([0, 1, 1, 0, 1, 0]),
             "reward": jnp.asarray(rng.normal(size=6), jnp.float32),
             "next_obs": jnp.asarray(rng.normal(size=(6, 4)), jnp.float32),
             "terminated": jnp.array([False, True, False, False, True, False])}
    target_params = jax.tree.map(lambda p: p + 0.1, state.params)
    _, q = a.loss(state.params, target_params, batch)
    online = np.asarray(a.q_values(state.params, batch["obs"]))
    online_next = np.asarray(a.q_values(state.params, batch["next_obs"]))
    target_next = np.asarray(a.q_values(target_params, batch["next_obs"]))
    chosen = online_next.argmax(1) if double else target_next.argmax(1)
    y = np.asarray(batch["reward"]) + 0.9 * (1 - np.asarray(batch["terminated"])) * target_next[np.arange(6), chosen]
    np.testing.assert_allclose(q, online[np.arange(6), [0, 1, 1, 0, 1, 0]], rtol=1e-6)
    error = online[np.arange(6), [0, 1, 1, 0, 1, 0]] - y
    huber = np.where(np.abs(error) <= 1, 0.5 * error ** 2, np.abs(error) - 0.5)
    np.testing.assert_allclose(a.loss(state.params, target_params, batch)[0], huber.mean(), rtol=1e-5)


def test_replay_buffer_learning_start_and_target_copies():
    a = agent()
    run = jax.jit(lambda s, n: jax.lax.scan(a.step, s, None, length=n), static_argnums=1)
    state, _ = run(a.init(jax.random.key(0)), 7)   # 28 transitions: not yet learning_starts = 32
    assert int(state.filled) == 28 and int(state.updates) == 0
    assert float(jnp.abs(state.buffer["obs"][:28]).sum()) > 0 and float(jnp.abs(state.buffer["obs"][28:]).sum()) == 0
    state, info = run(state, 13)                    # 80 transitions: the 64-slot buffer has wrapped
    assert int(state.filled) == 80 and int(state.updates) == 13
    np.testing.assert_array_equal(np.isnan(np.asarray(info["loss"])), False)
    # the target network was last copied at update 12 and has not moved since
    params, target = jax.tree.leaves(state.params)[0], jax.tree.leaves(state.target_params)[0]
    assert not np.allclose(params, target)
    assert float(info["epsilon"][-1]) == pytest.approx(0.05)   # decayed over 10 agent steps


def test_many_seeds_in_one_vmap_each_as_if_alone():
    a = agent(learning_starts=8)
    run = lambda key: jax.lax.scan(a.step, a.init(key), None, length=4)[0]
    keys = jax.random.split(jax.random.key(3), 3)
    together = jax.jit(jax.vmap(run))(keys)
    alone = jax.jit(run)(keys[1])
    assert int(alone.updates) == 3
    jax.tree.map(lambda t, s: np.testing.assert_allclose(t[1], s, rtol=1e-5, atol=1e-6), together.params, alone.params)

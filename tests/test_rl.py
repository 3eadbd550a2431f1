"""Deep RL building blocks: the Nature network's size, gymnax environments under vmap, and DQN's
target, replay buffer and target network against their definitions."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from deepzoo import models
from deepzoo.models.dqn import QNetwork
from deepzoo.rl import envs
from deepzoo.rl.dqn import DQN
from deepzoo.tasks import metrics as metrics_lib
from deepzoo.train.state import TrainState


def test_nature_dqn_has_1686180_parameters_for_4_actions_and_names_a_wrong_observation():
    assert models.summary("dqn_nature", quiet=True).params == 1_686_180
    net = models.get("dqn_nature")
    variables = jax.eval_shape(net.init, jax.random.key(0), jnp.zeros((1, 84, 84, 4)))
    with pytest.raises(ValueError, match=r"expects observations of shape \(batch, 84, 84, 4\); got \(1, 4\)"):
        jax.eval_shape(lambda v: net.apply(v, jnp.zeros((1, 4))), variables)


def test_environments_by_name_vectorised():
    with pytest.raises(KeyError, match=r"Did you mean 'CartPole-v1'.*Known environments: ALE/<Game>-v5 \(Atari\), "
                                       r"Acrobot-v1, CartPole-v1"):
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
             "next": jnp.asarray(rng.normal(size=(6, 4)), jnp.float32),
             "terminated": jnp.array([False, True, False, False, True, False])}
    target_params = jax.tree.map(lambda p: p + 0.1, state.params)
    q, _ = a.task.q_and_target(a.network, state.params, target_params, batch)
    online = np.asarray(a.q_values(state.params, batch["obs"]))
    online_next = np.asarray(a.q_values(state.params, batch["next"]))
    target_next = np.asarray(a.q_values(target_params, batch["next"]))
    chosen = online_next.argmax(1) if double else target_next.argmax(1)
    y = np.asarray(batch["reward"]) + 0.9 * (1 - np.asarray(batch["terminated"])) * target_next[np.arange(6), chosen]
    np.testing.assert_allclose(q, online[np.arange(6), [0, 1, 1, 0, 1, 0]], rtol=1e-6)
    error = online[np.arange(6), [0, 1, 1, 0, 1, 0]] - y
    huber = np.where(np.abs(error) <= 1, 0.5 * error ** 2, np.abs(error) - 0.5)
    loss, _ = a.task.loss(a.network, state.params, {}, {**batch, "target_params": target_params}, None)
    np.testing.assert_allclose(loss, huber.mean(), rtol=1e-5)


def test_replay_buffer_learning_start_and_target_copies():
    a = agent()
    run = jax.jit(lambda s, n: jax.lax.scan(a.step, s, None, length=n), static_argnums=1)
    state, _ = run(a.init(jax.random.key(0)), 7)   # 28 transitions: not yet learning_starts = 32
    assert int(state.filled) == 28 and int(state.learner.step) == 0
    assert float(jnp.abs(state.buffer["obs"][:28]).sum()) > 0 and float(jnp.abs(state.buffer["obs"][28:]).sum()) == 0
    state, info = run(state, 13)                    # 80 transitions: the 64-slot buffer has wrapped
    assert int(state.filled) == 80 and int(state.learner.step) == 13
    np.testing.assert_array_equal(np.isnan(np.asarray(info["loss"])), False)
    # the target network was last copied at update 12 and has not moved since
    params, target = jax.tree.leaves(state.params)[0], jax.tree.leaves(state.target_params)[0]
    assert not np.allclose(params, target)
    assert float(info["epsilon"][-1]) == pytest.approx(0.05)   # decayed over 10 agent steps


def test_dqn_learns_through_the_train_step_which_skips_an_overflowing_update():
    a = dataclasses.replace(agent(), tx=optax.sgd(3e38))
    start = a.init(jax.random.key(0))
    state, info = jax.jit(lambda s: jax.lax.scan(a.step, s, None, length=10))(start)   # updates in iterations 8-10
    assert int(state.learner.step) == 3 and isinstance(state.learner, TrainState)
    np.testing.assert_array_equal(np.asarray(info["nonfinite_update"][7:]), 1.0)
    jax.tree.map(np.testing.assert_array_equal, state.params, start.params)   # the step left the network as it was


@pytest.mark.slow
def test_many_seeds_in_one_vmap_each_as_if_alone():
    a = agent(learning_starts=8)
    run = lambda key: jax.lax.scan(a.step, a.init(key), None, length=4)[0]
    keys = jax.random.split(jax.random.key(3), 3)
    together = jax.jit(jax.vmap(run))(keys)
    alone = jax.jit(run)(keys[1])
    assert int(alone.learner.step) == 3
    jax.tree.map(lambda t, s: np.testing.assert_allclose(t[1], s, rtol=1e-5, atol=1e-6), together.params, alone.params)


def policy_agent(**kwargs):
    from deepzoo.models.dqn import ActorCritic
    from deepzoo.rl.ppo import PolicyGradient
    env = envs.make("CartPole-v1", num_envs=2)
    return PolicyGradient(env, ActorCritic(hidden=(8,)), optax.adam(1e-3), num_steps=8, minibatches=2, **kwargs)


@pytest.mark.parametrize("algorithm", ["ppo", "reinforce"])
def test_advantages_are_gae_written_out(algorithm):
    a = policy_agent(algorithm=algorithm, gamma=0.9, gae_lambda=0.8)
    rng = np.random.default_rng(0)
    t = {"reward": rng.normal(size=(5, 2)), "value": rng.normal(size=(5, 2)),
         "done": np.array([[0, 0], [1, 0], [0, 0], [0, 1], [0, 0]], np.float32)}
    last = rng.normal(size=2)
    adv, ret = a.advantages(jax.tree.map(jnp.asarray, t), jnp.asarray(last))
    lam = 1.0 if algorithm == "reinforce" else 0.8
    expected, running, next_value = np.zeros((5, 2)), np.zeros(2), last
    for i in reversed(range(5)):
        delta = t["reward"][i] + 0.9 * next_value * (1 - t["done"][i]) - t["value"][i]
        running = delta + 0.9 * lam * (1 - t["done"][i]) * running
        expected[i], next_value = running, t["value"][i]
    np.testing.assert_allclose(adv, expected, rtol=1e-5)
    np.testing.assert_allclose(ret, expected + t["value"], rtol=1e-5)
    if algorithm == "reinforce":   # lambda = 1: the discounted return to the episode's end (or the bootstrap)
        np.testing.assert_allclose(ret[2, 0], t["reward"][2, 0] + 0.9 * t["reward"][3, 0] + 0.81 * t["reward"][4, 0]
                                   + 0.729 * last[0], rtol=1e-5)


def test_ppo_loss_is_the_clipped_objective_written_out():
    a = policy_agent(clip=0.2, vf_coef=0.5, ent_coef=0.01)
    state = a.init(jax.random.key(0))
    rng = np.random.default_rng(1)
    obs = jnp.asarray(rng.normal(size=(6, 4)), jnp.float32)
    logits, value = map(np.asarray, a.policy(state.params, obs))
    action = np.array([0, 1, 0, 1, 1, 0])
    log_pi = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    old = log_pi[np.arange(6), action] + np.array([0.5, -0.5, 0.1, -0.1, 0.3, 0.0])   # ratios inside and outside the clip
    adv, ret = rng.normal(size=6), rng.normal(size=6)
    batch = {"obs": obs, "action": jnp.asarray(action), "log_prob": jnp.asarray(old, jnp.float32),
             "advantage": jnp.asarray(adv, jnp.float32), "return": jnp.asarray(ret, jnp.float32),
             "value": jnp.asarray(value)}
    total, (_, metrics) = a.task.loss(a.network, state.params, {}, batch, None)
    aux = metrics_lib.means(metrics)
    ratio = np.exp(log_pi[np.arange(6), action] - old)
    norm = (adv - adv.mean()) / (adv.std() + 1e-8)
    policy = -np.mean(np.minimum(ratio * norm, np.clip(ratio, 0.8, 1.2) * norm))
    entropy = -np.mean(np.sum(np.exp(log_pi) * log_pi, axis=1))
    np.testing.assert_allclose(aux["policy_loss"], policy, rtol=1e-5)
    np.testing.assert_allclose(total, policy + 0.5 * 0.5 * np.mean((value - ret) ** 2) - 0.01 * entropy, rtol=1e-5)


@pytest.mark.slow
def test_ppo_learns_cartpole_for_three_seeds_at_once():
    from deepzoo.models.dqn import ActorCritic
    from deepzoo.rl.ppo import PolicyGradient
    env = envs.make("CartPole-v1", num_envs=4)
    agent = PolicyGradient(env, ActorCritic(), optax.chain(optax.clip_by_global_norm(0.5), optax.adam(2.5e-4, eps=1e-5)))
    run = jax.jit(jax.vmap(lambda key: jax.lax.scan(agent.step, agent.init(key), None, length=120)[0]))
    states = run(jax.random.split(jax.random.key(0), 3))
    evaluate = jax.vmap(lambda p: envs.episode_returns(envs.make("CartPole-v1", 20), lambda o: agent.act_greedy(p, o),
                                                       jax.random.key(1)))
    assert float(jax.jit(evaluate)(states.params).mean(1).min()) > 100   # random play: about 22


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ppo", "dqn"])
def test_a_stopped_agent_run_resumes_to_the_same_numbers(tmp_path, name, monkeypatch):
    from deepzoo import config as config_lib
    from deepzoo.rl import agents
    from deepzoo.train import loop
    config = config_lib.load(f"configs/classic_control.py:cartpole,{name},smoke")
    full = agents.train_agent(config, tmp_path / "full")

    class StopAfterFirstChunk(loop.StopSignal):
        def requested(self, sync):
            return True   # a SIGTERM arrives during the first chunk
    monkeypatch.setattr(loop, "StopSignal", StopAfterFirstChunk)
    with pytest.raises(loop.Stopped, match="at chunk 1 of"):
        agents.train_agent(config, tmp_path / "resumed")
    monkeypatch.undo()
    resumed = agents.train_agent(config, tmp_path / "resumed")
    timeless = lambda r: {k: v for k, v in r.items() if k != "seconds"}
    assert timeless(resumed) == timeless(full) and (tmp_path / "resumed" / "learning_curves.png").exists()
    # the checkpoint keeps each seed's best evaluation so far, and that seed's policy from then
    from deepzoo.train.checkpoint import load_arrays
    from deepzoo.train.writers import read_metrics
    rows = [r for r in read_metrics(tmp_path / "full") if r["split"] == "eval"]
    saved = load_arrays(str(tmp_path / "full" / "checkpoints"))
    agent, eval_env = agents.make_agent(config), envs.make("CartPole-v1", config.eval_episodes)
    for i in range(config.seeds):
        best = max((r for r in rows if r["member"] == f"seed{i}"), key=lambda r: r["return"])
        assert saved["best_return"][i] == pytest.approx(best["return"])
        params = jax.tree.map(lambda x: x[i], saved["best_params"])   # replays its best evaluation exactly
        replay = envs.episode_returns(eval_env, lambda o: agent.act_greedy(params, o),
                                      agents.evaluation_key(config.seed, best["step"]))
        assert float(replay.mean()) == pytest.approx(best["return"])
    assert {"best_return", "best_return_min_seed", "best_return_seed0"} <= set(full)


def test_a_network_that_does_not_fit_the_environment_is_named():
    from deepzoo import config as config_lib
    from deepzoo.rl.agents import make_agent
    config = config_lib.load("configs/classic_control.py:cartpole,ppo,smoke", **{"env.name": "Acrobot-v1"})
    with pytest.raises(ValueError, match=r"Acrobot-v1 gives observations \(6,\) and has 3 actions"):
        make_agent(config)


@pytest.mark.slow
def test_the_control_experiment_writes_its_table_and_curves(run_experiment):
    out = run_experiment("control.py", "--variant=smoke", "--recipes=cartpole:dqn,acrobot:ppo")
    table = (out / "results.md").read_text()
    assert "| cartpole,dqn | 24 |" in table and "| acrobot,ppo | 3,072 |" in table
    assert (out / "learning_curves.png").stat().st_size > 10_000

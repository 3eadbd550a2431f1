"""Policy gradients with everything on the device: PPO (Schulman et al. 2017) and REINFORCE with a
baseline (Williams 1992), one iteration = one rollout of `num_steps` in every environment, then updates.

    advantages  GAE (Schulman et al. 2016): delta_t = r_t + gamma V(s_t+1) (1 - done_t) - V(s_t),
                A_t = delta_t + gamma lambda (1 - done_t) A_t+1; returns R_t = A_t + V(s_t). An episode cut
                by the time limit adds gamma V(its last observation) to its last reward.
    PPO         per epoch, per minibatch: ratio = pi(a|s) / pi_old(a|s), advantages normalised,
                loss = -mean(min(ratio A, clip(ratio, 1 - eps, 1 + eps) A)) + vf_coef (V - R)^2 / 2 - ent_coef H
    REINFORCE   lambda = 1 (Monte Carlo returns), one update per rollout on all of it, no ratio:
                loss = -mean(log pi(a|s) (R - V(s))) + vf_coef (V - R)^2 / 2 - ent_coef H
The network maps observations to (action logits, value). As for DQN, the state is one pytree: a chunk of
iterations is one lax.scan and many seeds are one vmap.
"""
import dataclasses
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from deepzoo.rl.envs import VecEnv


@flax.struct.dataclass
class PolicyState:
    step: jax.Array               # iterations done
    params: Any
    opt_state: Any
    env_state: Any
    obs: jax.Array
    episode_return: jax.Array
    key: jax.Array


@dataclasses.dataclass(frozen=True)
class PolicyGradient:
    env: VecEnv
    network: Any                  # observations (B, *obs_shape) -> (logits (B, actions), values (B,))
    tx: Any
    algorithm: str = "ppo"        # or "reinforce"
    num_steps: int = 128          # rollout length per environment
    epochs: int = 4
    minibatches: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.01

    def __post_init__(self):
        if self.algorithm not in ("ppo", "reinforce"):
            raise ValueError(f"unknown policy-gradient algorithm {self.algorithm!r}; known: ppo, reinforce.")

    @property
    def env_steps_per_iteration(self) -> int:
        return self.num_steps * self.env.num_envs

    def init(self, key) -> PolicyState:
        k_params, k_env, key = jax.random.split(key, 3)
        obs, env_state = self.env.reset(k_env)
        params = self.network.init(k_params, obs)["params"]
        return PolicyState(step=jnp.zeros((), jnp.int32), params=params, opt_state=self.tx.init(params),
                           env_state=env_state, obs=obs, episode_return=jnp.zeros(self.env.num_envs), key=key)

    def policy(self, params, obs):
        return self.network.apply({"params": params}, obs)

    def act_greedy(self, params, obs):
        return jnp.argmax(self.policy(params, obs)[0], axis=1)

    def rollout(self, state: PolicyState):
        """-> (state, trajectory of (num_steps, num_envs) arrays, finished episodes' returns (NaN elsewhere))."""
        def step(state, _):
            key, k_act, k_env = jax.random.split(state.key, 3)
            logits, value = self.policy(state.params, state.obs)
            action = jax.random.categorical(k_act, logits)
            obs, env_state, reward, terminated, truncated, final_obs = self.env.step(k_env, state.env_state, action)
            done = terminated | truncated
            # a time-limit cut is not an end: its last state's value is still owed
            reward_plus = reward + self.gamma * truncated * self.policy(state.params, final_obs)[1]
            returns = state.episode_return + reward
            transition = {"obs": state.obs, "action": action, "log_prob": jax.nn.log_softmax(logits)[
                jnp.arange(action.shape[0]), action], "value": value, "reward": reward_plus, "done": done}
            state = state.replace(env_state=env_state, obs=obs, episode_return=jnp.where(done, 0.0, returns), key=key)
            return state, (transition, jnp.where(done, returns, jnp.nan))

        state, (trajectory, finished) = jax.lax.scan(step, state, None, length=self.num_steps)
        return state, trajectory, finished

    def advantages(self, trajectory, last_value):
        lam = 1.0 if self.algorithm == "reinforce" else self.gae_lambda

        def backward(carry, t):
            advantage, next_value = carry
            not_done = 1.0 - t["done"]
            delta = t["reward"] + self.gamma * next_value * not_done - t["value"]
            advantage = delta + self.gamma * lam * not_done * advantage
            return (advantage, t["value"]), advantage

        _, adv = jax.lax.scan(backward, (jnp.zeros_like(last_value), last_value), trajectory, reverse=True)
        return adv, adv + trajectory["value"]

    def loss(self, params, batch):
        logits, value = self.policy(params, batch["obs"])
        log_probs = jax.nn.log_softmax(logits)
        log_prob = jnp.take_along_axis(log_probs, batch["action"][:, None], axis=1)[:, 0]
        entropy = -jnp.mean(jnp.sum(jnp.exp(log_probs) * log_probs, axis=1))
        value_loss = 0.5 * jnp.mean((value - batch["return"]) ** 2)
        if self.algorithm == "reinforce":
            policy_loss = -jnp.mean(log_prob * jax.lax.stop_gradient(batch["return"] - batch["value"]))
        else:
            adv = batch["advantage"]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            ratio = jnp.exp(log_prob - batch["log_prob"])
            policy_loss = -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - self.clip, 1 + self.clip) * adv))
        total = policy_loss + self.vf_coef * value_loss - self.ent_coef * entropy
        return total, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}

    def step(self, state: PolicyState, _=None):
        """One iteration: a rollout, then the updates -> (state, info)."""
        state, trajectory, finished = self.rollout(state)
        advantage, returns = self.advantages(trajectory, self.policy(state.params, state.obs)[1])
        data = {**trajectory, "advantage": advantage, "return": returns}
        data = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), data)   # (num_steps * num_envs, ...)
        epochs, minibatches = (1, 1) if self.algorithm == "reinforce" else (self.epochs, self.minibatches)
        key, k_shuffle = jax.random.split(state.key)

        def update(carry, perm):
            params, opt_state = carry
            batch = jax.tree.map(lambda x: x[perm], data)
            (_, aux), grads = jax.value_and_grad(self.loss, has_aux=True)(params, batch)
            updates, opt_state = self.tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), aux

        n = data["action"].shape[0]
        perms = jnp.stack([jax.random.permutation(k, n) for k in jax.random.split(k_shuffle, epochs)])
        perms = perms.reshape(epochs * minibatches, n // minibatches)
        (params, opt_state), aux = jax.lax.scan(update, (state.params, state.opt_state), perms)
        state = state.replace(step=state.step + 1, params=params, opt_state=opt_state, key=key)
        return state, {"returns": finished.reshape(-1), **jax.tree.map(jnp.mean, aux)}

"""Policy gradients with everything on the device: PPO (Schulman et al. 2017) and REINFORCE with a
baseline (Williams 1992), one iteration = one rollout of `num_steps` in every environment, then updates.

    advantages  GAE (Schulman et al. 2016): delta_t = r_t + gamma V(s_t+1) (1 - done_t) - V(s_t),
                A_t = delta_t + gamma lambda (1 - done_t) A_t+1; returns R_t = A_t + V(s_t). An episode cut
                by the time limit adds gamma V(its last observation) to its last reward.
    PPO         per epoch, per minibatch: ratio = pi(a|s) / pi_old(a|s), advantages normalised,
                loss = -mean(min(ratio A, clip(ratio, 1 - eps, 1 + eps) A)) + vf_coef (V - R)^2 / 2 - ent_coef H
    REINFORCE   lambda = 1 (Monte Carlo returns), one update per rollout on all of it, no ratio:
                loss = -mean(log pi(a|s) (R - V(s))) + vf_coef (V - R)^2 / 2 - ent_coef H
The loss is a task (tasks/rl.py, PolicyGradientLoss) and each minibatch's update is the one train step
(train/step.py); the rollout, the advantages and the epochs x minibatches stay here. The network maps
observations to (action logits, value). As for DQN, the state is one pytree: a chunk of iterations is one
lax.scan and many seeds are one vmap.
"""
import dataclasses
from typing import Any

import flax
import jax
import jax.numpy as jnp

from deepzoo.rl.envs import VecEnv
from deepzoo.tasks.rl import PolicyGradientLoss
from deepzoo.train.state import TrainState
from deepzoo.train.step import make_train_step


def gae(rewards, values, dones, last_value, gamma: float, lam: float):
    """Generalised advantage estimation (Schulman et al. 2016) over time-major (T, N) rewards, values V(s_t) and
    dones (1 where the episode ends at t: nothing is bootstrapped past it), from last_value (N,) = V(s_T)
    -> (advantages A, returns A + V), each (T, N)."""
    def backward(carry, t):
        advantage, next_value = carry
        reward, value, done = t
        not_done = 1.0 - done
        delta = reward + gamma * next_value * not_done - value
        advantage = delta + gamma * lam * not_done * advantage
        return (advantage, value), advantage

    _, adv = jax.lax.scan(backward, (jnp.zeros_like(last_value), last_value), (rewards, values, dones), reverse=True)
    return adv, adv + values


@flax.struct.dataclass
class PolicyState:
    """The policy-gradient agent's whole state as one pytree (learner, environments, running
    returns, key), scanned over a chunk and vmapped over seeds like DQN's."""
    step: jax.Array               # iterations done
    learner: TrainState           # the network and its optimizer; learner.step: gradient steps taken
    env_state: Any
    obs: jax.Array
    episode_return: jax.Array
    key: jax.Array

    @property
    def params(self):
        """The network's parameters."""
        return self.learner.params


@dataclasses.dataclass(frozen=True)
class PolicyGradient:
    """PPO (Schulman et al. 2017) or REINFORCE with a baseline (Williams 1992), with GAE advantages
    (Schulman et al. 2016) and everything on the device (module docstring)."""
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
        self.task   # an unknown algorithm is named now rather than at the first update

    @property
    def task(self) -> PolicyGradientLoss:
        """The PolicyGradientLoss with this agent's algorithm, clip, vf_coef and ent_coef."""
        return PolicyGradientLoss(algorithm=self.algorithm, clip=self.clip, vf_coef=self.vf_coef,
                                  ent_coef=self.ent_coef)

    @property
    def env_steps_per_iteration(self) -> int:
        """Environment steps in one iteration: num_steps x num_envs."""
        return self.num_steps * self.env.num_envs

    def init(self, key) -> PolicyState:
        """A fresh PolicyState from `key`: environments reset, network initialised."""
        k_params, k_env, key = jax.random.split(key, 3)
        obs, env_state = self.env.reset(k_env)
        params = self.network.init(k_params, obs)["params"]
        learner = TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=self.tx.init(params),
                             model_state={})
        return PolicyState(step=jnp.zeros((), jnp.int32), learner=learner, env_state=env_state, obs=obs,
                           episode_return=jnp.zeros(self.env.num_envs), key=key)

    def policy(self, params, obs):
        """obs (B, *obs_shape) -> (action logits (B, num_actions), values (B,)) of the network
        with `params`."""
        return self.network.apply({"params": params}, obs)

    def act_greedy(self, params, obs):
        """obs (B, *obs_shape) -> the most probable action of each row (B,)."""
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
        """GAE over a rollout's (num_steps, num_envs) trajectory, bootstrapped from
        last_value (num_envs,) -> (advantages A, returns A + V), each (num_steps, num_envs); REINFORCE uses
        lambda = 1."""
        lam = 1.0 if self.algorithm == "reinforce" else self.gae_lambda
        return gae(trajectory["reward"], trajectory["value"], trajectory["done"], last_value, self.gamma, lam)

    def step(self, state: PolicyState, _=None):
        """One iteration: a rollout, then the updates -> (state, info)."""
        state, trajectory, finished = self.rollout(state)
        advantage, returns = self.advantages(trajectory, self.policy(state.params, state.obs)[1])
        data = {**trajectory, "advantage": advantage, "return": returns}
        data = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), data)   # (num_steps * num_envs, ...)
        epochs, minibatches = (1, 1) if self.algorithm == "reinforce" else (self.epochs, self.minibatches)
        key, k_shuffle = jax.random.split(state.key)

        train_step = make_train_step(self.network, self.task, self.tx, seed=0)   # the networks draw no dropout

        def update(learner, perm):   # one minibatch: one train step
            learner, metrics = train_step(learner, jax.tree.map(lambda x: x[perm], data))
            return learner, {name: total / count for name, (total, count) in metrics.items()}

        n = data["action"].shape[0]
        perms = jnp.stack([jax.random.permutation(k, n) for k in jax.random.split(k_shuffle, epochs)])
        perms = perms.reshape(epochs * minibatches, n // minibatches)
        learner, metrics = jax.lax.scan(update, state.learner, perms)
        state = state.replace(step=state.step + 1, learner=learner, key=key)
        # the step's metrics (policy_loss, value_loss, entropy, grad_norm, nonfinite_*), averaged over the updates
        return state, {"returns": finished.reshape(-1), **jax.tree.map(jnp.mean, metrics)}

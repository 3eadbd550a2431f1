"""DQN (Mnih et al. 2015) with everything on the device: environments, replay buffer, learner.

One iteration = `train_every` agent steps (each one step of every environment, eps-greedy on the online
network, the transitions written into the circular replay buffer), then `gradient_steps` gradient steps on
uniformly drawn minibatches (once the buffer holds `learning_starts`), and every `target_every` gradient
steps a copy of the online parameters into the target network. train_every = gradient_steps = 1 is the
Nature paper's interleaving; Stable-Baselines3's tuned CartPole recipe trains in bursts (256 steps, then
128 updates against one target):

    y = r + gamma (1 - terminated) Q_target(s', argmax_a' Q(s', a'))   double=True (van Hasselt et al. 2016)
    y = r + gamma (1 - terminated) max_a' Q_target(s', a')             double=False (the Nature paper)
    loss = Huber_delta(Q(s, a) - y)                                    (their error clipping, delta 1)
That loss is a task (tasks/rl.py, QLearning) and a gradient step is the one train step (train/step.py) on a
replay sample with the target network's parameters; the target network's sync stays here. An episode cut
by the time limit (truncated) still bootstraps from its last observation s'. epsilon decays linearly from
eps_start to eps_end over eps_decay_steps agent steps. The agent's whole state is one pytree (AgentState):
a chunk of agent steps is one lax.scan, many seeds are one vmap, and a checkpoint of it resumes a run
exactly (rl/agents.py).
"""
import dataclasses
from typing import Any

import flax
import jax
import jax.numpy as jnp

from deepzoo.rl.envs import VecEnv
from deepzoo.tasks.rl import QLearning
from deepzoo.train.state import TrainState
from deepzoo.train.step import make_train_step


@flax.struct.dataclass
class AgentState:
    """DQN's whole state as one pytree (learner, target network, replay buffer, environments, key):
    a chunk is one lax.scan over it, seeds one vmap, and its checkpoint resumes a run exactly."""
    step: jax.Array               # iterations done (train_every agent steps, then the updates)
    learner: TrainState           # the online network and its optimizer; learner.step: gradient steps taken
    target_params: Any
    buffer: dict                  # obs, action, reward, next (s'), terminated: (buffer_size, ...)
    filled: jax.Array             # transitions written so far (the buffer holds min(filled, size))
    env_state: Any
    obs: jax.Array
    episode_return: jax.Array     # (num_envs,) return so far of each running episode
    key: jax.Array

    @property
    def params(self):
        """The online network's parameters: the ones that act and are evaluated."""
        return self.learner.params


@dataclasses.dataclass(frozen=True)
class DQN:
    """Deep Q-learning (Mnih et al. 2015), double by default (van Hasselt, Guez & Silver 2016), with the
    environments, the replay buffer and the learner on the device (module docstring)."""
    env: VecEnv
    network: Any                  # a Flax module: observations (B, *obs_shape) -> Q-values (B, actions)
    tx: Any                       # optax optimizer
    buffer_size: int = 10_000
    batch_size: int = 128
    gamma: float = 0.99
    learning_starts: int = 1_000  # transitions in the buffer before the first gradient step
    train_every: int = 1          # agent steps per iteration
    gradient_steps: int = 1       # gradient steps per iteration
    target_every: int = 500       # gradient steps per target-network update
    tau: float = 1.0              # the update: target <- (1 - tau) target + tau online (1: a copy, as Nature)
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay_steps: int = 10_000
    double: bool = True
    huber_delta: float = 1.0
    # Frame-stacked observations (Atari's last 4 frames, newest last): the buffer keeps only the newest frame
    # of s' (s' is s shifted by one frame), 5 frames per transition instead of 8; 35 GB at Nature's 1M.
    stacked_frames: bool = False

    def init(self, key) -> AgentState:
        """A fresh AgentState from `key`: environments reset, network initialised, the target network a
        copy of it, the replay buffer empty."""
        k_params, k_env, key = jax.random.split(key, 3)
        obs, env_state = self.env.reset(k_env)
        params = self.network.init(k_params, obs)["params"]
        size = self.buffer_size
        next_shape = (*obs.shape[1:-1], 1) if self.stacked_frames else obs.shape[1:]
        buffer = {"obs": jnp.zeros((size, *obs.shape[1:]), obs.dtype), "action": jnp.zeros(size, jnp.int32),
                  "reward": jnp.zeros(size), "next": jnp.zeros((size, *next_shape), obs.dtype),
                  "terminated": jnp.zeros(size, bool)}
        learner = TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=self.tx.init(params),
                             model_state={})
        return AgentState(step=jnp.zeros((), jnp.int32), learner=learner, target_params=params, buffer=buffer,
                          filled=jnp.zeros((), jnp.int32), env_state=env_state, obs=obs,
                          episode_return=jnp.zeros(self.env.num_envs), key=key)

    @property
    def task(self) -> QLearning:
        """The QLearning loss with this agent's gamma, double, huber_delta and stacked_frames."""
        return QLearning(gamma=self.gamma, double=self.double, huber_delta=self.huber_delta,
                         stacked_frames=self.stacked_frames)

    def q_values(self, params, obs):
        """obs (B, *obs_shape) -> Q-values (B, num_actions) of the network with `params`."""
        return self.network.apply({"params": params}, obs)

    def epsilon(self, step):
        """The exploration rate after `step` agent steps: linear from eps_start to eps_end over
        eps_decay_steps, then eps_end."""
        fraction = jnp.clip(step / self.eps_decay_steps, 0.0, 1.0)
        return self.eps_start + fraction * (self.eps_end - self.eps_start)

    @property
    def env_steps_per_iteration(self) -> int:
        """Environment steps in one iteration: train_every x num_envs."""
        return self.train_every * self.env.num_envs

    def _learn(self, state: AgentState, _=None):
        """One gradient step on a uniform replay sample, then the target network's update when it is due."""
        key, k_batch = jax.random.split(state.key)
        rows = jax.random.randint(k_batch, (self.batch_size,), 0, jnp.minimum(state.filled, self.buffer_size))
        batch = {**jax.tree.map(lambda x: x[rows], state.buffer), "target_params": state.target_params}
        train_step = make_train_step(self.network, self.task, self.tx, seed=0)   # the Q-networks draw no dropout
        learner, metrics = train_step(state.learner, batch)
        sync = learner.step % self.target_every == 0
        target = jax.tree.map(lambda t, p: jnp.where(sync, (1 - self.tau) * t + self.tau * p, t), state.target_params,
                              learner.params)
        state = state.replace(learner=learner, target_params=target, key=key)
        return state, {name: total / count for name, (total, count) in metrics.items()}

    def _act(self, state: AgentState, agent_step):
        """One step of every environment, its transitions stored -> (state, finished episodes' returns)."""
        key, k_explore, k_random, k_env = jax.random.split(state.key, 4)
        n = self.env.num_envs
        greedy = jnp.argmax(self.q_values(state.params, state.obs), axis=1)
        explore = jax.random.uniform(k_explore, (n,)) < self.epsilon(agent_step)
        actions = jnp.where(explore, jax.random.randint(k_random, (n,), 0, self.env.num_actions), greedy)
        obs, env_state, reward, terminated, truncated, final_obs = self.env.step(k_env, state.env_state, actions)

        slots = (state.filled + jnp.arange(n)) % self.buffer_size
        written = {"obs": state.obs, "action": actions, "reward": reward,
                   "next": final_obs[..., -1:] if self.stacked_frames else final_obs, "terminated": terminated}
        buffer = jax.tree.map(lambda b, x: b.at[slots].set(x.astype(b.dtype)), state.buffer, written)
        done = terminated | truncated
        returns = state.episode_return + reward
        state = state.replace(buffer=buffer, filled=state.filled + n, env_state=env_state, obs=obs,
                              episode_return=jnp.where(done, 0.0, returns), key=key)
        return state, jnp.where(done, returns, jnp.nan)

    def step(self, state: AgentState, _=None):
        """One iteration -> (state, info): info["returns"] holds each finished episode's return, NaN elsewhere."""
        first = state.step * self.train_every
        state, returns = jax.lax.scan(self._act, state, first + jnp.arange(self.train_every))
        learn = lambda s: jax.lax.scan(self._learn, s, None, length=self.gradient_steps)
        nothing = lambda s: (s, jax.tree.map(lambda m: jnp.full(m.shape, jnp.nan), jax.eval_shape(learn, s)[1]))
        state, learned = jax.lax.cond(state.filled >= self.learning_starts, learn, nothing, state)
        # learned: the step's metrics (loss, q, grad_norm, nonfinite_*) of each gradient step; NaN before learning
        return state.replace(step=state.step + 1), {"returns": returns.reshape(-1), **jax.tree.map(jnp.mean, learned),
                                                     "epsilon": self.epsilon(first + self.train_every)}

    def act_greedy(self, params, obs):
        """obs (B, *obs_shape) -> the action of highest Q-value of each row (B,)."""
        return jnp.argmax(self.q_values(params, obs), axis=1)

"""Q-networks: Mnih et al. 2015, "Human-level control through deep reinforcement learning", Nature 518
(https://doi.org/10.1038/nature14236), Methods: "Model architecture".

    NatureDQN  84x84x4 frames (the last 4, greyscale, 0..255) -> /255
               -> Conv 32 8x8 / 4 -> ReLU -> Conv 64 4x4 / 2 -> ReLU -> Conv 64 3x3 / 1 -> ReLU (7x7x64)
               -> Dense 512 -> ReLU -> Dense(num_actions): one Q-value per action
               1,686,180 parameters for 4 actions (Breakout's)
    QNetwork   an MLP over a state vector (classic control: CartPole's 4 numbers) -> Q-values
Both take observations (B, *obs_shape) and say so when the shape does not match what they were built for.
"""
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp


def check_observations(obs, expected: tuple, network: str):
    """Raises ValueError, naming `network` and the shape to set, unless obs is
    (batch, *expected)."""
    if tuple(obs.shape[1:]) != tuple(expected):
        raise ValueError(f"{network} expects observations of shape (batch, {', '.join(map(str, expected))}); got "
                         f"{tuple(obs.shape)}. Set its obs_shape to the environment's observation shape "
                         f"{tuple(obs.shape[1:])}.")


class NatureDQN(nn.Module):
    """The Atari Q-network of Mnih et al. 2015 (Nature): stacked frames (B, *obs_shape), by default
    84x84x4 with values 0..255 -> Q-values (B, num_actions), float32."""
    num_actions: int = 4
    obs_shape: Sequence[int] = (84, 84, 4)
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, obs, *, train: bool = False):
        check_observations(obs, self.obs_shape, "NatureDQN")
        x = obs.astype(self.dtype) / 255.0
        for features, kernel, stride in ((32, 8, 4), (64, 4, 2), (64, 3, 1)):
            x = nn.relu(nn.Conv(features, (kernel, kernel), strides=stride, padding="VALID", dtype=self.dtype)(x))
        x = nn.relu(nn.Dense(512, dtype=self.dtype)(x.reshape(x.shape[0], -1)))
        return nn.Dense(self.num_actions, dtype=self.dtype)(x).astype(jnp.float32)


class QNetwork(nn.Module):
    """An MLP Q-network for state vectors (DQN, Mnih et al. 2015, with ReLU layers of `hidden`
    units instead of the convolutional torso): obs (B, *obs_shape) -> Q-values (B, num_actions), float32."""
    num_actions: int = 2
    obs_shape: Sequence[int] = (4,)
    hidden: Sequence[int] = (64, 64)
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, obs, *, train: bool = False):
        check_observations(obs, self.obs_shape, "QNetwork")
        x = obs.reshape(obs.shape[0], -1).astype(self.dtype)
        for width in self.hidden:
            x = nn.relu(nn.Dense(width, dtype=self.dtype)(x))
        return nn.Dense(self.num_actions, dtype=self.dtype)(x).astype(jnp.float32)


class ActorCritic(nn.Module):
    """The policy-gradient network: separate tanh MLPs for the action logits and the value (as the PPO
    paper's MuJoCo networks), orthogonal initialisation with a small policy output."""
    num_actions: int = 2
    obs_shape: Sequence[int] = (4,)
    hidden: Sequence[int] = (64, 64)
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, obs, *, train: bool = False):
        """obs (B, *obs_shape) -> (action logits (B, num_actions), values (B,)), float32."""
        check_observations(obs, self.obs_shape, "ActorCritic")
        x = obs.reshape(obs.shape[0], -1).astype(self.dtype)

        def torso(h, name):
            for i, width in enumerate(self.hidden):
                h = jnp.tanh(nn.Dense(width, kernel_init=nn.initializers.orthogonal(jnp.sqrt(2.0)), dtype=self.dtype,
                                      name=f"{name}_{i}")(h))
            return h

        logits = nn.Dense(self.num_actions, kernel_init=nn.initializers.orthogonal(0.01), dtype=self.dtype,
                          name="logits")(torso(x, "actor"))
        value = nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0), dtype=self.dtype, name="value")(
            torso(x, "critic"))
        return logits.astype(jnp.float32), value[:, 0].astype(jnp.float32)


MODELS = {
    "dqn_nature": (NatureDQN, (84, 84, 4)),
    "qnet_cartpole": (functools.partial(QNetwork, num_actions=2, obs_shape=(4,)), (4,)),
    "qnet_acrobot": (functools.partial(QNetwork, num_actions=3, obs_shape=(6,)), (6,)),
    "qnet_mountaincar": (functools.partial(QNetwork, num_actions=3, obs_shape=(2,)), (2,)),
    "actor_critic_cartpole": (functools.partial(ActorCritic, num_actions=2, obs_shape=(4,)), (4,)),
    "actor_critic_acrobot": (functools.partial(ActorCritic, num_actions=3, obs_shape=(6,)), (6,)),
}

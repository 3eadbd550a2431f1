"""The deep-RL losses as tasks, so that the agents (rl/dqn.py, rl/ppo.py) update their networks with the one
train step (train/step.py): the replay sample or the rollout's minibatch is the batch.

    QLearning           DQN (Mnih et al. 2015); batch: sampled transitions (obs, action, reward, terminated,
                        next) and the target network's parameters (target_params)
        y = r + gamma (1 - terminated) Q_target(s', argmax_a' Q(s', a'))   double=True (van Hasselt et al. 2016)
        y = r + gamma (1 - terminated) max_a' Q_target(s', a')             double=False (the Nature paper)
        loss = mean Huber_delta(Q(s, a) - y)                               (their error clipping, delta 1)
    PolicyGradientLoss  PPO (Schulman et al. 2017) or REINFORCE with a baseline (Williams 1992); batch: a
                        minibatch of the rollout (obs, action, log_prob and value when acting, advantage, return)
        PPO        ratio = pi(a|s) / pi_old(a|s), advantages A normalised over the minibatch,
                   loss = -mean(min(ratio A, clip(ratio, 1 - eps, 1 + eps) A)) + vf_coef (V - R)^2 / 2 - ent_coef H
        REINFORCE  loss = -mean(log pi(a|s) (R - V_old(s))) + vf_coef (V - R)^2 / 2 - ent_coef H
    TokenPPO            PPO on the tokens a language model generated (Ziegler et al. 2019; Ouyang et al. 2022,
                        step 3); batch: sequences (tokens), which of their tokens the policy drew (action_mask),
                        and per drawn token log_prob, advantage and return (rl/rlhf.py)
        the same clipped objective and value loss per drawn token, advantages normalised over the minibatch's
        drawn tokens, means over them
The networks have no mutable state (model_state is {} and comes back unchanged) and draw no dropout.
"""
import dataclasses

import jax
import jax.numpy as jnp
import optax

from deepzoo.tasks import metrics as metrics_lib


def _apply(model, params, model_state, obs):
    return model.apply({"params": params, **model_state}, obs)


def token_log_probs(logits, tokens):
    """log p of each next token: logits (B, T, V) of tokens[:, :-1], tokens (B, T + 1) -> (B, T)."""
    return jnp.take_along_axis(jax.nn.log_softmax(logits), tokens[:, 1:, None], axis=-1)[..., 0]


def clipped_surrogate(log_prob, old_log_prob, advantage, clip: float):
    """PPO's clipped objective, negated to a loss, per action: -min(ratio A, clip(ratio, 1 - clip, 1 + clip) A)
    with ratio = pi(a|s) / pi_old(a|s)."""
    ratio = jnp.exp(log_prob - old_log_prob)
    return -jnp.minimum(ratio * advantage, jnp.clip(ratio, 1 - clip, 1 + clip) * advantage)


@dataclasses.dataclass(frozen=True)
class QLearning:
    """DQN's loss (Mnih et al. 2015), double Q-learning by default (van Hasselt, Guez & Silver 2016):
    the Huber loss between Q(s, a) and the target y (module docstring)."""
    gamma: float = 0.99
    double: bool = True
    huber_delta: float = 1.0
    # The replay memory keeps only the newest frame of s' (Atari's 4-frame stacks): s' is s shifted by one frame.
    stacked_frames: bool = False

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["obs"],)."""
        return (batch["obs"],)

    def next_obs(self, batch):
        """s' of each transition: batch["next"], or with stacked_frames the frames of s shifted by
        one with batch["next"] (the newest frame) last."""
        if self.stacked_frames:
            return jnp.concatenate([batch["obs"][..., 1:], batch["next"]], axis=-1)
        return batch["next"]

    def q_and_target(self, model, params, target_params, batch, model_state=None):
        """-> (Q(s, a), y) per transition. An episode cut by the time limit (not terminated) still
        bootstraps from its last observation s'."""
        model_state = model_state or {}
        next_obs = self.next_obs(batch)
        q_all = _apply(model, params, model_state, batch["obs"])
        q = jnp.take_along_axis(q_all, batch["action"][:, None], axis=1)[:, 0]
        next_target = _apply(model, target_params, model_state, next_obs)
        if self.double:
            best = jnp.argmax(_apply(model, params, model_state, next_obs), axis=1)
            next_value = jnp.take_along_axis(next_target, best[:, None], axis=1)[:, 0]
        else:
            next_value = jnp.max(next_target, axis=1)
        # y is a regression target: no gradient flows through it
        y = batch["reward"] + self.gamma * (1.0 - batch["terminated"]) * jax.lax.stop_gradient(next_value)
        return q, y

    def loss(self, model, params, model_state, batch, rngs):
        """(mean Huber loss, (model_state, metrics)) of a replay sample, the target network's
        parameters in batch["target_params"]; metrics loss and q (the mean Q(s, a))."""
        q, y = self.q_and_target(model, params, batch["target_params"], batch, model_state)
        huber = optax.huber_loss(q, y, delta=self.huber_delta)
        return jnp.mean(huber), (model_state, {"loss": metrics_lib.pair(huber, 1.0), "q": metrics_lib.pair(q, 1.0)})

    def evaluate(self, model, params, model_state, batch):
        """The metrics of `loss` on `batch`, unweighted (no mask)."""
        return self.loss(model, params, model_state, batch, None)[1][1]


@dataclasses.dataclass(frozen=True)
class PolicyGradientLoss:
    """The actor-critic loss of PPO (Schulman et al. 2017) or REINFORCE with a baseline
    (Williams 1992), with value and entropy terms (module docstring)."""
    algorithm: str = "ppo"        # or "reinforce"
    clip: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.01

    def __post_init__(self):
        if self.algorithm not in ("ppo", "reinforce"):
            raise ValueError(f"unknown policy-gradient algorithm {self.algorithm!r}; known: ppo, reinforce.")

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["obs"],)."""
        return (batch["obs"],)

    def loss(self, model, params, model_state, batch, rngs):
        """(policy loss + vf_coef * value loss - ent_coef * entropy, (model_state, metrics)) of
        a rollout minibatch; metrics policy_loss, value_loss and entropy."""
        logits, value = _apply(model, params, model_state, batch["obs"])
        log_probs = jax.nn.log_softmax(logits)
        log_prob = jnp.take_along_axis(log_probs, batch["action"][:, None], axis=1)[:, 0]
        entropy = -jnp.sum(jnp.exp(log_probs) * log_probs, axis=1)          # H(pi(.|s))
        value_loss = 0.5 * (value - batch["return"]) ** 2
        if self.algorithm == "reinforce":
            policy_loss = -log_prob * jax.lax.stop_gradient(batch["return"] - batch["value"])
        else:
            adv = batch["advantage"]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            policy_loss = clipped_surrogate(log_prob, batch["log_prob"], adv, self.clip)
        total = jnp.mean(policy_loss) + self.vf_coef * jnp.mean(value_loss) - self.ent_coef * jnp.mean(entropy)
        metrics = {"policy_loss": metrics_lib.pair(policy_loss, 1.0), "value_loss": metrics_lib.pair(value_loss, 1.0),
                   "entropy": metrics_lib.pair(entropy, 1.0)}
        return total, (model_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """The metrics of `loss` on `batch`, unweighted (no mask)."""
        return self.loss(model, params, model_state, batch, None)[1][1]


@dataclasses.dataclass(frozen=True)
class TokenPPO:
    """PPO on generated tokens (module docstring). The model maps tokens (B, T) to (next-token logits (B, T, V),
    values (B, T)); batch {"tokens": (B, T + 1), "action_mask", "log_prob", "advantage", "return": (B, T)}, where
    position t is the state before token t + 1 and its action that token."""
    clip: float = 0.2
    vf_coef: float = 0.1
    ent_coef: float = 0.0

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["tokens"][:, :-1],)."""
        return (batch["tokens"][:, :-1],)

    def loss(self, model, params, model_state, batch, rngs):
        """(clipped policy loss + vf_coef * value loss - ent_coef * entropy, (model_state, metrics)) over the drawn
        tokens; metrics policy_loss, value_loss, entropy, approx_kl (to the acting policy) and clip_fraction."""
        logits, value = _apply(model, params, model_state, *self.inputs(batch))
        log_probs = jax.nn.log_softmax(logits)
        log_prob = token_log_probs(logits, batch["tokens"])
        entropy = -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1)
        mask = batch["action_mask"].astype(jnp.float32)
        mean = lambda x: jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)
        adv = batch["advantage"]
        adv = (adv - mean(adv)) / (jnp.sqrt(mean((adv - mean(adv)) ** 2)) + 1e-8)
        policy_loss = clipped_surrogate(log_prob, batch["log_prob"], adv, self.clip)
        value_loss = 0.5 * (value - batch["return"]) ** 2
        total = mean(policy_loss) + self.vf_coef * mean(value_loss) - self.ent_coef * mean(entropy)
        clipped = jnp.abs(jnp.exp(log_prob - batch["log_prob"]) - 1) > self.clip
        metrics = {"policy_loss": metrics_lib.pair(policy_loss, mask), "value_loss": metrics_lib.pair(value_loss, mask),
                   "entropy": metrics_lib.pair(entropy, mask),
                   "approx_kl": metrics_lib.pair(batch["log_prob"] - log_prob, mask),
                   "clip_fraction": metrics_lib.pair(clipped, mask)}
        return total, (model_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """The metrics of `loss` on `batch`."""
        return self.loss(model, params, model_state, batch, None)[1][1]

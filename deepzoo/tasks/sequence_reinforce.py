"""REINFORCE (Williams 1992) for a model that scores a sampled token sequence position by position: a neural
architecture search controller (Zoph & Le 2017, equation 2).

    batch {"tokens": (B, T) int, "advantages": (B,)}: sequences the model sampled, and reward - baseline of each
    loss = -mean_k(advantage_k * sum_t log p(token_kt | tokens_k,<t)) - entropy_weight * mean_k(sum_t entropy_kt)
The model returns logits (B, T, C), very negative (finite) at the choices a position does not have.
"""
import dataclasses

import jax
import jax.numpy as jnp

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model


def log_probs_and_entropy(logits, tokens):
    """(log p of each sequence (B,), entropy of each sequence's choices summed over positions (B,))."""
    logp = jax.nn.log_softmax(logits.astype(jnp.float32))
    chosen = jnp.take_along_axis(logp, tokens[..., None], -1)[..., 0].sum(-1)
    p = jnp.exp(logp)
    entropy = -(p * logp).sum((-2, -1))           # p = 0 at the choices a position does not have
    return chosen, entropy


@dataclasses.dataclass(frozen=True)
class SequenceReinforce:
    """REINFORCE with a baseline on token sequences (module docstring); metrics log_prob and entropy per
    sequence and the advantage."""
    entropy_weight: float = 0.0

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (tokens,)."""
        return (batch["tokens"],)

    def loss(self, model, params, model_state, batch, rngs):
        """(REINFORCE's surrogate loss, (model state, metrics)) of one batch of sampled sequences."""
        logits, model_state = apply_model(model, params, model_state, self.inputs(batch), train=True, rngs=rngs)
        logp, entropy = log_probs_and_entropy(logits, batch["tokens"])
        advantages = jax.lax.stop_gradient(batch["advantages"])
        loss = -jnp.mean(advantages * logp) - self.entropy_weight * jnp.mean(entropy)
        metrics = {"log_prob": metrics_lib.pair(logp, 1.0), "entropy": metrics_lib.pair(entropy, 1.0),
                   "advantage": metrics_lib.pair(advantages, 1.0)}
        return loss, (model_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real sequences of `batch` (batch["mask"]): log_prob and entropy."""
        logits, _ = apply_model(model, params, model_state, self.inputs(batch), train=False)
        logp, entropy = log_probs_and_entropy(logits, batch["tokens"])
        return {"log_prob": metrics_lib.pair(logp, batch["mask"]), "entropy": metrics_lib.pair(entropy, batch["mask"])}

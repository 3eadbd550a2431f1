"""Masked language modelling (BERT's pre-training): hide some tokens, predict them from both sides.

A batch holds {"tokens": int (B, L)}. Each step chooses mask_rate (15%) of the real tokens (ids >=
num_special: never PAD, EOS, BOS) and corrupts them as Devlin et al. 2019 do: 80% become mask_id, 10%
a random token, 10% stay themselves (so the model cannot rely on seeing [MASK]). The loss and the
metrics (loss, bits per token, token_accuracy = MLM accuracy) are over the chosen tokens only. The
choice is drawn from the step's key, so it is new every step (dynamic masking, as RoBERTa) and the same
on a resumed run; evaluation uses one fixed key, so every evaluation hides the same tokens.
"""
import dataclasses

import jax
import jax.numpy as jnp

from deepzoo.tasks import sequences
from deepzoo.tasks.apply import apply_model


def corrupt(tokens, rng, *, vocab_size: int, mask_id: int, mask_rate: float = 0.15, num_special: int = 4):
    """-> (corrupted tokens, chosen (B, L) bool): BERT's 80/10/10 corruption of mask_rate of the tokens."""
    choose, how, draw = jax.random.split(rng, 3)
    chosen = (tokens >= num_special) & jax.random.bernoulli(choose, mask_rate, tokens.shape)
    u = jax.random.uniform(how, tokens.shape)
    random_tokens = jax.random.randint(draw, tokens.shape, num_special, vocab_size, tokens.dtype)
    corrupted = jnp.where(u < 0.8, mask_id, jnp.where(u < 0.9, random_tokens, tokens))
    return jnp.where(chosen, corrupted, tokens), chosen


@dataclasses.dataclass(frozen=True)
class MaskedLM:
    """BERT's masked-language-model objective (Devlin et al. 2019) on {"tokens": (B, L)}: the
    cross-entropy of the chosen tokens after 80/10/10 corruption (module docstring)."""
    mask_rate: float = 0.15
    mask_id: int = 3            # [MASK]; for the byte vocabulary UNK (3), which no text ever encodes to
    num_special: int = 4        # ids below it (PAD 0, EOS 1, BOS 2, UNK 3) are never chosen nor drawn
    eval_seed: int = 0

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["tokens"],), uncorrupted."""
        return (batch["tokens"],)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the logits do not cover the dataset's vocabulary."""
        sequences.check_vocab(output_shape, source, model_name)

    def _metrics(self, model, params, model_state, batch, rng, example_mask, train: bool, rngs=None):
        tokens = batch["tokens"]
        corrupted, chosen = corrupt(tokens, rng, vocab_size=model.vocab_size, mask_id=self.mask_id,
                                    mask_rate=self.mask_rate, num_special=self.num_special)
        logits, new_state = apply_model(model, params, model_state, (corrupted,), train=train, rngs=rngs)
        weights = chosen * example_mask[:, None]
        losses, correct = sequences.token_losses(logits, tokens)
        metrics = sequences.token_metrics(losses, correct, weights)
        del metrics["sequence_accuracy"]  # a row's few hidden tokens: not a sequence-level figure
        return sequences.mean_loss(losses, weights), metrics, new_state

    def loss(self, model, params, model_state, batch, rngs):
        """(mean cross-entropy over the batch's chosen tokens, (new model state, metrics)) of one training batch;
        metrics as in evaluate. The choice is drawn from rngs["dropout"]."""
        # The dropout key also draws the masks, folded so that the two never coincide.
        rng = jax.random.fold_in(rngs["dropout"], 1)
        loss, metrics, new_state = self._metrics(model, params, model_state, batch, rng,
                                                 jnp.ones(batch["tokens"].shape[0]), True, rngs)
        return loss, (new_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"]): loss, bits_per_token and
        token_accuracy over the chosen tokens, chosen with eval_seed."""
        return self._metrics(model, params, model_state, batch, jax.random.key(self.eval_seed), batch["mask"],
                             False)[1]

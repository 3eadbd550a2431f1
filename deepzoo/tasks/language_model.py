"""Language modelling: predict each next token; reported as loss (nats), bits per token, accuracy.

A batch holds {"tokens": int (B, L + 1)}: the model reads tokens[:, :-1] and predicts tokens[:, 1:].
Padding tokens (pad_id) are not predicted. With byte tokens, bits per token is bits per character.
"""
import dataclasses

import jax.numpy as jnp

from deepzoo.tasks import sequences
from deepzoo.tasks.apply import apply_model


@dataclasses.dataclass(frozen=True)
class LanguageModel:
    """Next-token prediction on {"tokens": (B, L + 1)}: cross-entropy of tokens[:, 1:] given
    tokens[:, :-1], PAD targets left out; metrics as sequences.token_metrics."""
    pad_id: int = 0

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["tokens"][:, :-1],)."""
        return (batch["tokens"][:, :-1],)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the logits do not cover the dataset's vocabulary."""
        sequences.check_vocab(output_shape, source, model_name)

    def _metrics(self, logits, batch, example_mask):
        targets = batch["tokens"][:, 1:]
        weights = (targets != self.pad_id) * example_mask[:, None]
        losses, correct = sequences.token_losses(logits, targets)
        return sequences.mean_loss(losses, weights), sequences.token_metrics(losses, correct, weights)

    def loss(self, model, params, model_state, batch, rngs):
        """(mean cross-entropy over the batch's non-PAD target tokens, (new model state, metrics)) of one training
        batch; metrics as in evaluate."""
        logits, new_state = apply_model(model, params, model_state, self.inputs(batch), train=True, rngs=rngs)
        loss, metrics = self._metrics(logits, batch, jnp.ones(batch["tokens"].shape[0]))
        return loss, (new_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"]): loss, bits_per_token,
        token_accuracy and sequence_accuracy."""
        logits, _ = apply_model(model, params, model_state, self.inputs(batch), train=False)
        return self._metrics(logits, batch, batch["mask"])[1]

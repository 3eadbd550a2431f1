"""Sequence to sequence (translation, captioning): teacher-forced cross-entropy over the target tokens.

A batch holds {source_key: the source (token ids, or uint8 images), "target": int (B, L)}, the target
ending with EOS and right-padded with PAD. The decoder reads [BOS, target[:-1]] (teacher forcing) and
predicts target. With eval_decode_length > 0, evaluation also decodes greedily (no teacher) and reports
exact_match: the share of examples whose whole output equals the target.
"""
import dataclasses

import jax.numpy as jnp

from deepzoo.inference import decoding
from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks import sequences
from deepzoo.tasks.apply import apply_model


def shift_right(target, bos_id: int):
    """[t0, t1, ..., t_{L-1}] -> [BOS, t0, ..., t_{L-2}]: what the decoder reads at each position."""
    return jnp.concatenate([jnp.full_like(target[:, :1], bos_id), target[:, :-1]], axis=1)


@dataclasses.dataclass(frozen=True)
class Seq2Seq:
    """Teacher-forced cross-entropy of the target tokens (translation, captioning), optionally
    label-smoothed; with eval_decode_length, evaluation also decodes greedily (module docstring)."""
    source_key: str = "source"       # "image" for captioning
    label_smoothing: float = 0.0
    eval_decode_length: int = 0      # > 0: greedy decoding of this many tokens in evaluation
    pad_id: int = 0                  # token ids: deepzoo.data.text (PAD 0, EOS 1, BOS 2)
    eos_id: int = 1
    bos_id: int = 2

    def source(self, batch):
        """batch[source_key]; uint8 images scaled to [0, 1] float32."""
        x = batch[self.source_key]
        return x.astype(jnp.float32) / 255.0 if x.dtype == jnp.uint8 else x

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (source, [BOS, target[:, :-1]])."""
        return self.source(batch), shift_right(batch["target"], self.bos_id)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the logits do not cover the dataset's vocabulary."""
        sequences.check_vocab(output_shape, source, model_name)

    def _metrics(self, logits, batch, example_mask, label_smoothing):
        target = batch["target"]
        weights = (target != self.pad_id) * example_mask[:, None]
        losses, correct = sequences.token_losses(logits, target, label_smoothing)
        return sequences.mean_loss(losses, weights), sequences.token_metrics(losses, correct, weights)

    def loss(self, model, params, model_state, batch, rngs):
        """(mean cross-entropy over the batch's non-PAD target tokens, label-smoothed when label_smoothing > 0,
        (new model state, metrics)) of one training batch; metrics loss, bits_per_token, token_accuracy and
        sequence_accuracy."""
        logits, new_state = apply_model(model, params, model_state, self.inputs(batch), train=True, rngs=rngs)
        loss, metrics = self._metrics(logits, batch, jnp.ones(batch["target"].shape[0]), self.label_smoothing)
        return loss, (new_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"]): loss (no label smoothing),
        bits_per_token, token_accuracy, sequence_accuracy, and exact_match with eval_decode_length."""
        logits, _ = apply_model(model, params, model_state, self.inputs(batch), train=False)
        # Evaluation reports the true cross-entropy, without label smoothing.
        metrics = self._metrics(logits, batch, batch["mask"], 0.0)[1]
        if self.eval_decode_length:
            tokens = decoding.generate(model, {"params": params, **model_state}, self.source(batch),
                                       max_length=self.eval_decode_length, bos_id=self.bos_id,
                                       eos_id=self.eos_id)
            metrics["exact_match"] = metrics_lib.pair(exact_match(tokens, batch["target"], self.pad_id),
                                                      batch["mask"])
        return metrics


def exact_match(tokens, target, pad_id: int = 0):
    """Whether each decoded row equals its target (both end at EOS, then PAD), whatever their lengths."""
    length = max(tokens.shape[1], target.shape[1])
    pad = lambda x: jnp.pad(x, ((0, 0), (0, length - x.shape[1])), constant_values=pad_id)
    return jnp.all(pad(tokens) == pad(target), axis=1)

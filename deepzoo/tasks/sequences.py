"""Per-token losses and metrics shared by the sequence tasks (language modelling, seq2seq)."""
import math

import jax
import jax.numpy as jnp
import optax

from deepzoo.tasks import metrics as metrics_lib


def token_losses(logits, targets, label_smoothing: float = 0.0):
    """Cross-entropy (nats) of each target token and whether the argmax predicted it, in float32."""
    logits = logits.astype(jnp.float32)  # the softmax in f32 even when the model computes in bf16
    if label_smoothing:
        smoothed = optax.smooth_labels(jax.nn.one_hot(targets, logits.shape[-1]), label_smoothing)
        losses = optax.softmax_cross_entropy(logits, smoothed)
    else:
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    return losses, jnp.argmax(logits, -1) == targets


def token_metrics(losses, correct, weights) -> metrics_lib.Metrics:
    """Per-token loss, bits per token and accuracy over the tokens with weight 1, and the fraction of
    sequences whose every weighted token is right (teacher-forced: each prediction sees the truth)."""
    example = jnp.max(weights, axis=-1)  # 1 for a real (unpadded) example with at least one token
    all_right = jnp.all(correct | (weights == 0), axis=-1)
    return {"loss": metrics_lib.pair(losses, weights),
            "bits_per_token": metrics_lib.pair(losses / math.log(2), weights),
            "token_accuracy": metrics_lib.pair(correct, weights),
            "sequence_accuracy": metrics_lib.pair(all_right, example)}


def mean_loss(losses, weights):
    """The weighted mean of per-token `losses`: sum(losses * weights) / max(sum(weights), 1)."""
    return jnp.sum(losses * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def check_vocab(output_shape, source, model_name):
    """Fails early, with the fix, when the model's logits do not cover the dataset's vocabulary."""
    vocab_size = getattr(source, "vocab_size", None)
    if vocab_size is None:
        raise ValueError(f"the dataset gives no vocabulary (source.vocab_size): {model_name} needs a text "
                         f"dataset for this task.")
    if output_shape[-1] != vocab_size:
        raise ValueError(f"model {model_name} outputs {output_shape[-1]} logits but the dataset's "
                         f"vocabulary has {vocab_size} tokens: set --config.model.kwargs.vocab_size="
                         f"{vocab_size}.")

"""Binary vectors predicted at some steps of a sequence: the memory networks' algorithmic tasks (copy, recall).

Each output unit is a Bernoulli logit; the cost of a sequence is the cross-entropy in bits of its target bits
at the steps where batch["weights"] is 1, summed (Graves, Wayne & Danihelka 2014 plot this "cost per
sequence (bits)"). Metrics: that cost (loss), the wrong bits per sequence after thresholding at 1/2
(bit_errors), and the fraction of sequences with none (sequence_accuracy).
"""
import dataclasses
import math

import jax.numpy as jnp
import numpy as np
import optax

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model


@dataclasses.dataclass(frozen=True)
class BitSequence:
    """Sigmoid cross-entropy of batch["target"] (B, T, bits) at batch["weights"] (B, T) == 1 (module docstring)."""

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["input"],)."""
        return (batch["input"],)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the model's outputs per step differ from the target's bits."""
        target = source.read(np.arange(1))["target"]
        if tuple(output_shape[1:]) != tuple(target.shape[1:]):
            raise ValueError(f"model {model_name} outputs {tuple(output_shape[1:])} per sequence but the target "
                             f"is {tuple(target.shape[1:])}: set its num_outputs to {target.shape[-1]}.")

    @staticmethod
    def _per_sequence(logits, batch):
        """(cost in bits, wrong bits) of each sequence: (B,), (B,)."""
        target = batch["target"].astype(jnp.float32)
        weights = batch["weights"].astype(jnp.float32)[..., None]
        logits = logits.astype(jnp.float32)
        cost = jnp.sum(optax.sigmoid_binary_cross_entropy(logits, target) * weights, axis=(1, 2)) / math.log(2)
        errors = jnp.sum((logits > 0).astype(jnp.float32) != target, axis=-1, keepdims=True)
        return cost, jnp.sum(errors * weights, axis=(1, 2))

    def _metrics(self, logits, batch, mask):
        cost, errors = self._per_sequence(logits, batch)
        return cost, {"loss": metrics_lib.pair(cost, mask), "bit_errors": metrics_lib.pair(errors, mask),
                      "sequence_accuracy": metrics_lib.pair(errors == 0, mask)}

    def loss(self, model, params, model_state, batch, rngs):
        """(mean cost per sequence in bits, (new model state, metrics)) of one training batch."""
        logits, new_state = apply_model(model, params, model_state, self.inputs(batch), train=True, rngs=rngs)
        cost, metrics = self._metrics(logits, batch, 1.0)
        return jnp.mean(cost), (new_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"])."""
        logits, _ = apply_model(model, params, model_state, self.inputs(batch), train=False)
        return self._metrics(logits, batch, batch["mask"])[1]

"""The perceptron criterion (Rosenblatt 1958; the name is Duda & Hart's, 1973): the loss whose gradient is
the perceptron rule.

    J(w, b) = sum over the batch of max(0, -y a),    a = w . x + b,  y in {-1, +1}

A point with y a <= 0 is a mistake (one on the boundary counts, as in Rosenblatt's rule and Novikoff's
proof); its (sub)gradient is -y (x, 1), zero elsewhere. One SGD step of learning rate 1 on one example is
therefore exactly Rosenblatt's update: w <- w + y x, b <- b + y on a mistake, nothing otherwise. The loss
is a sum, not a mean, so that a batch of B examples takes the sum of their B updates (the batch perceptron).
"""
import dataclasses

import jax.numpy as jnp

from deepzoo.tasks import metrics as metrics_lib


def signs(labels):
    """Labels as the perceptron's targets: +1 for a label > 0, -1 otherwise ({0, 1} and {-1, +1} both work)."""
    return jnp.where(jnp.asarray(labels) > 0, 1.0, -1.0)


@dataclasses.dataclass(frozen=True)
class PerceptronCriterion:
    """Trains a `perceptron` on {"input", "label"} batches of two classes; metrics loss (the criterion per
    example), mistakes (the fraction with y a <= 0) and accuracy (1 - mistakes)."""

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["input"],)."""
        return (batch["input"],)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, on a model that is not one unit or a dataset of more than two classes."""
        if tuple(output_shape[1:]) != ():
            raise ValueError(f"the perceptron criterion trains one threshold unit, but model {model_name} outputs "
                             f"shape {tuple(output_shape[1:])} per example: use model 'perceptron'.")
        if source.num_classes and source.num_classes > 2:
            raise ValueError(f"the perceptron separates two classes but the dataset has {source.num_classes}: "
                             f"pick two with --config.dataset.classes='(a, b)'.")

    @staticmethod
    def _terms(model, params, model_state, batch):
        a = model.apply({"params": params, **model_state}, batch["input"], method="net_input")   # (B,)
        margin = signs(batch["label"]) * a                                                     # y a
        mistake = margin <= 0
        # where(), not maximum(): at y a = 0 the gradient must be the update -y x (maximum would halve it).
        return jnp.where(mistake, -margin, 0.0), mistake

    def loss(self, model, params, model_state, batch, rngs):
        """(the criterion summed over the batch, (model state, metrics)) of one training batch."""
        del rngs
        losses, mistake = self._terms(model, params, model_state, batch)
        metrics = {"loss": metrics_lib.pair(losses, 1.0), "mistakes": metrics_lib.pair(mistake, 1.0),
                   "accuracy": metrics_lib.pair(~mistake, 1.0)}
        return jnp.sum(losses), (model_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"])."""
        losses, mistake = self._terms(model, params, model_state, batch)
        mask = batch["mask"]
        return {"loss": metrics_lib.pair(losses, mask), "mistakes": metrics_lib.pair(mistake, mask),
                "accuracy": metrics_lib.pair(~mistake, mask)}


"""Classification: softmax cross-entropy (optionally label-smoothed), accuracy."""
import dataclasses

import jax
import jax.numpy as jnp
import optax

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model


@dataclasses.dataclass(frozen=True)
class Classification:
    """Softmax cross-entropy on {"input", "label"} batches, label-smoothed when label_smoothing > 0
    (Szegedy et al. 2016); metrics loss (nats) and accuracy."""
    label_smoothing: float = 0.0
    # Per-channel statistics for inputs that arrive as uint8 pixels (ImageNet): normalised here, on the
    # device, so that a quarter of the bytes cross the wire. Empty: inputs are used as they come.
    input_mean: tuple = ()
    input_std: tuple = ()

    def inputs(self, batch) -> tuple:
        """The model's positional inputs."""
        x = batch["input"]
        if self.input_mean or self.input_std:
            mean, std = jnp.asarray(self.input_mean or 0.0), jnp.asarray(self.input_std or 1.0)
            return ((x.astype(jnp.float32) - mean) / std,)
        return (x,)

    def _losses(self, logits, labels):
        logits = logits.astype(jnp.float32)  # the softmax in f32 even when the model computes in bf16
        if self.label_smoothing:
            targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), self.label_smoothing)
            losses = optax.softmax_cross_entropy(logits, targets)
        else:
            losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
        return losses, jnp.argmax(logits, -1) == labels

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the model's outputs do not fit the dataset's classes."""
        if source.num_classes and output_shape[-1] != source.num_classes:
            raise ValueError(f"model {model_name} outputs {output_shape[-1]} logits but the dataset has "
                             f"{source.num_classes} classes: set --config.model.kwargs.num_classes="
                             f"{source.num_classes} (num_outputs for the MLPs).")

    def loss(self, model, params, model_state, batch, rngs):
        """(mean cross-entropy over the batch, (new model state, metrics)) of one training batch; metrics as in
        evaluate."""
        logits, new_state = apply_model(model, params, model_state, self.inputs(batch), train=True,
                                       rngs=rngs)
        losses, correct = self._losses(logits, batch["label"])
        metrics = {"loss": metrics_lib.pair(losses, 1.0), "accuracy": metrics_lib.pair(correct, 1.0)}
        return jnp.mean(losses), (new_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"]): loss (label-smoothed as in
        training) and accuracy."""
        logits, _ = apply_model(model, params, model_state, self.inputs(batch), train=False)
        losses, correct = self._losses(logits, batch["label"])
        mask = batch["mask"]
        return {"loss": metrics_lib.pair(losses, mask), "accuracy": metrics_lib.pair(correct, mask)}

"""Regression: mean squared error against a real-valued target."""
import dataclasses

import jax.numpy as jnp
import numpy as np

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model


@dataclasses.dataclass(frozen=True)
class Regression:
    """Mean squared error between the model's output and batch["target"]; metric mse."""

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["input"],)."""
        return (batch["input"],)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the model's output size differs from the target's."""
        target = source.read(np.arange(1))["target"]
        if int(np.prod(output_shape[1:])) != int(np.prod(target.shape[1:])):
            raise ValueError(f"model {model_name} outputs shape {output_shape[1:]} per example but the "
                             f"target has shape {target.shape[1:]}: set its num_outputs to match.")

    @staticmethod
    def _errors(pred, target):
        err = pred.astype(jnp.float32).reshape(target.shape) - target
        return jnp.mean(err.reshape(err.shape[0], -1) ** 2, axis=-1)

    def loss(self, model, params, model_state, batch, rngs):
        """(mean of the per-example MSEs, (new model state, {"mse": (sum, count)})) of one training batch."""
        pred, new_state = apply_model(model, params, model_state, self.inputs(batch), train=True, rngs=rngs)
        errors = self._errors(pred, batch["target"])
        return jnp.mean(errors), (new_state, {"mse": metrics_lib.pair(errors, 1.0)})

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"]): mse."""
        pred, _ = apply_model(model, params, model_state, self.inputs(batch), train=False)
        return {"mse": metrics_lib.pair(self._errors(pred, batch["target"]), batch["mask"])}

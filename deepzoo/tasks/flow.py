"""Exact likelihood (normalising flows): bits per dimension of dequantised pixels.

Pixels x = k / 255 (k = 0..255) are dequantised to (k + u) / 256, u ~ U(0, 1) (Theis et al. 2016):
-log2 P(k) <= -log2 p((k + u) / 256) + D log2 256, averaged over D dimensions. Fresh u every step in
training, a fixed draw in evaluation. The model returns {"log_prob": log density of its (0, 1) input}.
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model
from deepzoo.tasks.reconstruction import check_unit_range, first_images


@dataclasses.dataclass(frozen=True)
class Flow:
    """Maximum likelihood for normalising flows on {"input": pixels k / (levels - 1) in [0, 1]}:
    dequantised (Theis, van den Oord & Bethge 2016), reported in bits per dimension."""
    levels: int = 256
    eval_seed: int = 0

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["input"],)."""
        return (batch["input"],)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the pixels are outside [0, 1]."""
        check_unit_range(first_images(source), f"the flow {model_name}")

    def dequantise(self, x, key):
        """Pixels x in [0, 1] -> (k + u) / levels with k = round(x (levels - 1)), u ~ U(0, 1) from `key`."""
        k = jnp.round(x * (self.levels - 1))
        return (k + jax.random.uniform(key, x.shape)) / self.levels

    def _bits(self, log_prob, x):
        dims = int(np.prod(x.shape[1:]))
        return (-log_prob + dims * np.log(self.levels)) / (dims * np.log(2.0))

    def loss(self, model, params, model_state, batch, rngs):
        """(mean bits per dimension over the batch, (new model state, metrics)) of one training batch; metrics as in
        evaluate. The dequantisation is drawn from rngs["dropout"]."""
        x = self.dequantise(batch["input"], jax.random.fold_in(rngs["dropout"], 1))
        out, new_state = apply_model(model, params, model_state, (x,), train=True, rngs=rngs)
        bits = self._bits(out["log_prob"], x)
        return jnp.mean(bits), (new_state, {"bits_per_dim": metrics_lib.pair(bits, 1.0)})

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"]): bits_per_dim, dequantised with
        eval_seed."""
        x = self.dequantise(batch["input"], jax.random.key(self.eval_seed))
        out, _ = apply_model(model, params, model_state, (x,), train=False)
        return {"bits_per_dim": metrics_lib.pair(self._bits(out["log_prob"], x), batch["mask"])}

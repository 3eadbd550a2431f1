"""Kohonen's self-organising map rule as the gradient of a loss (Kohonen 1982).

For an input x with best-matching unit c = argmin_j ||x - w_j||^2 (under stop_gradient: the winner is
picked, not differentiated), the loss

    E(x) = 1/2 sum_j h(j, c) ||x - w_j||^2,    h(j, c) = exp(-||r_j - r_c||^2 / (2 sigma(t)^2))

(r_j: unit j's (row, col) on the grid) has gradient -h(j, c) (x - w_j) for unit j, so one SGD step of
learning rate alpha is Kohonen's update w_j <- w_j + alpha h(j, c) (x - w_j). A batch takes the mean of
its examples' losses, i.e. the mean of their updates. The neighbourhood radius shrinks with the step:
exponentially, sigma(t) = sigma0 (sigma_end / sigma0)^(t / num_steps) (or linearly from sigma0 to
sigma_end); the learning rate alpha(t) is the optimizer's schedule (plain SGD).

Metrics: quantisation_error, the mean distance ||x - w_c|| from an input to its best-matching unit, and
topographic_error (Kiviluoto 1996), the fraction of inputs whose first and second best-matching units are
not neighbours on the grid (one step along a row or a column).
"""
import dataclasses

import jax
import jax.numpy as jnp

from deepzoo.tasks import metrics as metrics_lib

DECAYS = ("exponential", "linear")


def grid_positions(rows: int, cols: int):
    """(rows * cols, 2): the (row, col) of each unit, in the order of the flattened grid."""
    r, c = jnp.meshgrid(jnp.arange(rows), jnp.arange(cols), indexing="ij")
    return jnp.stack([r.ravel(), c.ravel()], axis=-1).astype(jnp.float32)


def best_units(distances):
    """(B, rows, cols) squared distances -> (first, second) best-matching units' flat indices, each (B,)."""
    _, top = jax.lax.top_k(-distances.reshape(distances.shape[0], -1), 2)
    return top[:, 0], top[:, 1]


@dataclasses.dataclass(frozen=True)
class SelfOrganizingMapTask:
    """Trains a `som` (a rows x cols codebook) on batch["input"]; labels, if any, are not used."""
    sigma0: float = 0.0            # initial neighbourhood radius in grid units; 0: half the longer side of the grid
    sigma_end: float = 0.5         # the radius at the last step
    num_steps: int = 1000          # the step at which the radius reaches sigma_end (the run's length)
    decay: str = "exponential"     # or "linear"

    uses_step = True   # loss(..., step=): the train step passes its step number (train/step.py)

    def __post_init__(self):
        if self.decay not in DECAYS:
            raise ValueError(f"SOM task: decay={self.decay!r}; use one of {', '.join(DECAYS)}.")
        if self.sigma_end <= 0 or (self.sigma0 and self.sigma0 < self.sigma_end):
            raise ValueError(f"SOM task: the radius must shrink from sigma0={self.sigma0} to sigma_end="
                             f"{self.sigma_end} > 0: set sigma0 >= sigma_end (or 0 for half the grid).")
        if self.num_steps < 1:
            raise ValueError(f"SOM task: num_steps={self.num_steps} must be >= 1 (set it to the run's "
                             f"config.num_train_steps).")

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["input"],)."""
        return (batch["input"],)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the model does not give one distance per unit of a grid."""
        del source
        if len(output_shape) != 3:
            raise ValueError(f"the SOM task needs distances to a grid of units, (batch, rows, cols), but model "
                             f"{model_name} outputs {tuple(output_shape)}: use model 'som'.")

    def radius(self, step, rows: int, cols: int):
        """sigma(step): from sigma0 (or half the grid) down to sigma_end at num_steps, then held."""
        sigma0 = self.sigma0 or max(rows, cols) / 2.0
        t = jnp.clip(jnp.asarray(step, jnp.float32) / self.num_steps, 0.0, 1.0)
        if self.decay == "linear":
            return sigma0 + (self.sigma_end - sigma0) * t
        return sigma0 * (self.sigma_end / sigma0) ** t

    @staticmethod
    def neighbourhood(bmu, rows: int, cols: int, sigma):
        """h(j, c) for every unit j and each input's winner c: (B,) -> (B, rows, cols)."""
        pos = grid_positions(rows, cols)                                     # (rows * cols, 2)
        d2 = jnp.sum((pos[None, :, :] - pos[bmu][:, None, :]) ** 2, -1)     # (B, rows * cols)
        return jnp.exp(-d2 / (2.0 * sigma**2)).reshape(-1, rows, cols)

    @staticmethod
    def _metrics(distances, mask):
        rows, cols = distances.shape[1:]
        first, second = best_units(distances)
        qe = jnp.sqrt(jnp.maximum(jnp.take_along_axis(distances.reshape(len(first), -1), first[:, None], 1)[:, 0], 0.0))
        pos = grid_positions(rows, cols)
        adjacent = jnp.sum(jnp.abs(pos[first] - pos[second]), -1) == 1.0
        return {"quantisation_error": metrics_lib.pair(qe, mask),
                "topographic_error": metrics_lib.pair(~adjacent, mask)}

    def loss(self, model, params, model_state, batch, rngs, *, step):
        """(mean over the batch of 1/2 sum_j h(j, c) ||x - w_j||^2, (model state, metrics)) at train step `step`."""
        del rngs
        distances = model.apply({"params": params, **model_state}, batch["input"])   # (B, rows, cols)
        rows, cols = distances.shape[1:]
        bmu, _ = best_units(jax.lax.stop_gradient(distances))                        # (B,) the winners
        sigma = self.radius(step, rows, cols)
        h = self.neighbourhood(bmu, rows, cols, sigma)                                # (B, rows, cols)
        losses = 0.5 * jnp.sum(h * distances, axis=(1, 2))                            # (B,)
        metrics = {"loss": metrics_lib.pair(losses, 1.0), **self._metrics(distances, 1.0),
                   "sigma": (sigma, jnp.ones((), jnp.float32))}
        return jnp.mean(losses), (model_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"])."""
        distances = model.apply({"params": params, **model_state}, batch["input"])
        return self._metrics(distances, batch["mask"])

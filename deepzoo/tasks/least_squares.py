"""The least-squares readout, a closed-form learner of the shared fit (deepzoo/train/fit.py).

A model whose last layer is linear, y = h W + b on features h from a fixed hidden layer (an RBF network's
Gaussians; an extreme learning machine's random units; an echo state network's reservoir states), has the
readout that minimises ||H W + 1 b - Y||^2 + ridge ||W||^2 in closed form. With H~ = [H, 1]:

    statistics: H~^T H~ and H~^T Y, summed over the real rows of every batch (one pass)
    solve:      (H~^T H~ + ridge diag(1, ..., 1, 0)) [W; b] = H~^T Y      (the bias is not penalised)

the normal equations (with ridge > 0, Tikhonov's regularisation, Hoerl & Kennard 1970). They square the
condition number of H: a readout that must be precise (an echo state network predicting a chaotic series)
sums them in float64 (float64=True). The solve runs on the host in float64; ridge = 0 takes the
least-squares solution of smallest norm (the pseudo-inverse, as Broomhead & Lowe 1988 do).
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util


@dataclasses.dataclass(frozen=True)
class LeastSquares:
    """Solves the Dense layer `readout` of a model from the features its method `features` gives.

    Targets are batch[target]: real-valued (B, ..., outputs), or, for target="label", integer classes
    coded one-hot (the readout's width is the number of classes). Features (B, ..., F) may carry more axes
    than the batch (time steps of a sequence): every position is a row, masked by its example's mask, the
    first `washout` positions of each sequence left out.
    """
    features: str = "features"     # the model method giving the hidden layer's values H
    readout: str = "readout"       # the path of the Dense layer solved ("readout/kernel", "readout/bias")
    ridge: float = 0.0             # Tikhonov penalty on the weights (not the bias)
    target: str = "target"         # batch key of the targets; "label": one-hot of integer classes
    input: str = "input"           # batch key of the model's input
    washout: int = 0               # sequences: the first positions (features' axis 1) left out, a reservoir's transient
    float64: bool = False          # sum H~^T H~ in float64: the normal equations square H's condition number

    def __post_init__(self):
        if self.ridge < 0 or self.washout < 0:
            raise ValueError(f"least squares: ridge={self.ridge} and washout={self.washout} must be >= 0.")

    def _readout(self, variables):
        flat = traverse_util.flatten_dict(variables["params"], sep="/")
        if f"{self.readout}/kernel" not in flat:
            layers = sorted({k.rsplit("/", 1)[0] for k in flat})
            raise ValueError(f"least squares: the model has no Dense layer {self.readout!r}; its layers are "
                             f"{layers}: set readout= to one of them.")
        return flat[f"{self.readout}/kernel"]

    def statistics(self, model, variables, batch):
        """{"hth": H~^T H~ (F+1, F+1), "hty": H~^T Y (F+1, outputs), "rows"}: sums over the batch's real rows."""
        outputs = self._readout(variables).shape[-1]
        dtype = jnp.float64 if self.float64 else jnp.float32
        h = model.apply(variables, batch[self.input], method=self.features).astype(dtype)         # (B, ..., F)
        y = batch[self.target]
        if self.target == "label":
            y = jax.nn.one_hot(y, outputs)
        y = jnp.asarray(y, dtype).reshape(*h.shape[:-1], outputs)                                 # (B, ..., O)
        mask = batch["mask"].reshape(-1, *([1] * (h.ndim - 2))) * jnp.ones(h.shape[:-1], dtype)    # (B, ...)
        if self.washout:
            if h.ndim < 3 or self.washout >= h.shape[1]:
                raise ValueError(f"least squares: washout={self.washout} needs sequences of features longer than "
                                 f"that; the features have shape {h.shape}.")
            mask = mask * (jnp.arange(h.shape[1]) >= self.washout).reshape(1, -1, *([1] * (h.ndim - 3)))
        h = jnp.concatenate([h, jnp.ones((*h.shape[:-1], 1), h.dtype)], -1).reshape(-1, h.shape[-1] + 1)
        y, mask = y.reshape(-1, outputs), mask.reshape(-1, 1)
        return {"hth": (h * mask).T @ h, "hty": (h * mask).T @ y, "rows": jnp.sum(mask)}

    def solve(self, model, variables, totals):
        """`variables` with the readout's kernel and bias solved from the summed statistics."""
        del model
        kernel = self._readout(variables)
        a, b = np.asarray(totals["hth"], np.float64), np.asarray(totals["hty"], np.float64)
        if self.ridge > 0:
            penalty = np.ones(len(a))
            penalty[-1] = 0.0
            w = np.linalg.solve(a + self.ridge * np.diag(penalty), b)
        else:
            w = np.linalg.lstsq(a, b, rcond=None)[0]
        flat = traverse_util.flatten_dict(variables["params"], sep="/")
        flat[f"{self.readout}/kernel"] = jnp.asarray(w[:-1], kernel.dtype)
        flat[f"{self.readout}/bias"] = jnp.asarray(w[-1], kernel.dtype)
        return {**variables, "params": traverse_util.unflatten_dict(flat, sep="/")}

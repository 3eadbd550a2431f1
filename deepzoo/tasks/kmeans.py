"""k-means (Lloyd 1957/1982; MacQueen 1967), a closed-form learner of the shared fit (deepzoo/train/fit.py):
one pass is one Lloyd step.

    statistics: for each centre k, the sum and the count of the real rows nearest to it (and the squared
                distances to their nearest centres, the quantity Lloyd's step never increases)
    solve:      c_k <- sum_k / count_k (a centre that won no point stays where it was)

The centres start wherever the model put them; `initial_centres` draws k-means++ starting points from the data.
Optionally the solve also sets the widths of Gaussian units at those centres (an RBF network's), by a rule:
  "nearest": s_k = width_scale x the root mean square distance from c_k to its width_neighbours nearest
             centres (the p-nearest-neighbour heuristic of Moody & Darken 1989)
  "dmax":    s_k = width_scale x d_max / sqrt(2K) for every k, d_max the largest distance between two centres
             (the rule for fixed centres in Haykin 1999, Neural Networks, 2nd ed., ch. 5)
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

WIDTH_RULES = ("", "nearest", "dmax")


def nearest(points, centres):
    """(N, d), (K, d) -> (index of each point's nearest centre (N,), its squared distance (N,))."""
    d2 = jnp.sum((points[:, None, :] - centres[None, :, :]) ** 2, -1)
    return jnp.argmin(d2, -1), jnp.min(d2, -1)


def initial_centres(points, k: int, seed: int = 0):
    """k starting centres drawn from `points` (N, d) by k-means++ (Arthur & Vassilvitskii 2007): each next one
    with probability proportional to its squared distance from the nearest chosen so far."""
    x = np.asarray(points, np.float64).reshape(len(points), -1)
    if k > len(x):
        raise ValueError(f"k-means: {k} centres from {len(x)} points; use at most {len(x)} centres.")
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(len(x)))]
    d2 = np.sum((x - x[chosen[0]]) ** 2, -1)
    for _ in range(k - 1):
        total = d2.sum()
        nxt = int(rng.choice(len(x), p=d2 / total)) if total > 0 else int(rng.integers(len(x)))
        chosen.append(nxt)
        d2 = np.minimum(d2, np.sum((x - x[nxt]) ** 2, -1))
    return x[chosen].astype(np.float32)


def widths(centres, rule: str, *, scale: float = 1.0, neighbours: int = 1, spread: float = 1.0):
    """The widths (K,) of Gaussian units at `centres` (K, d) by `rule` (see the module's docstring); a single
    centre gets scale x `spread` (the k-means fit passes the root mean square distance of the points to it)."""
    c = np.asarray(centres, np.float64)
    d2 = np.sum((c[:, None, :] - c[None, :, :]) ** 2, -1)
    k = len(c)
    if k < 2 and rule in ("dmax", "nearest"):
        return np.full(k, scale * spread)
    if rule == "dmax":
        return np.full(k, scale * np.sqrt(d2.max()) / np.sqrt(2.0 * k))
    if rule == "nearest":
        p = min(neighbours, k - 1)
        closest = np.sort(d2, axis=1)[:, 1:p + 1]               # column 0 is the centre itself
        return scale * np.sqrt(np.mean(closest, axis=1))
    raise ValueError(f"unknown width rule {rule!r}; use one of {', '.join(r for r in WIDTH_RULES if r)}.")


@dataclasses.dataclass(frozen=True)
class KMeans:
    """Lloyd steps on the centres at parameter path `centres` (K, d) from batch[input] (flattened to (B, d))."""
    centres: str = "basis/centres"
    input: str = "input"
    widths: str = "basis/widths"   # where the width rule writes (ignored when width_rule is "")
    width_rule: str = ""           # "", "nearest" or "dmax"
    width_scale: float = 1.0
    width_neighbours: int = 1

    def __post_init__(self):
        if self.width_rule not in WIDTH_RULES:
            raise ValueError(f"k-means: unknown width_rule {self.width_rule!r}; use one of "
                             f"{', '.join(repr(r) for r in WIDTH_RULES)}.")

    def _get(self, variables, path):
        flat = traverse_util.flatten_dict(variables["params"], sep="/")
        if path not in flat:
            raise ValueError(f"k-means: the model has no parameter {path!r}; its parameters are {sorted(flat)}.")
        return flat[path]

    def statistics(self, model, variables, batch):
        """{"sums": (K, d), "counts": (K,), "sse": ()}: the batch's real rows by nearest centre."""
        del model
        centres = self._get(variables, self.centres)
        x = jnp.asarray(batch[self.input], jnp.float32).reshape(batch[self.input].shape[0], -1)   # (B, d)
        index, d2 = nearest(x, centres)
        onehot = jax.nn.one_hot(index, centres.shape[0]) * batch["mask"][:, None]                # (B, K)
        return {"sums": onehot.T @ x, "counts": jnp.sum(onehot, 0), "sse": jnp.sum(d2 * batch["mask"])}

    def solve(self, model, variables, totals):
        """`variables` with each centre moved to the mean of its points (and the widths set by the rule)."""
        del model
        old = self._get(variables, self.centres)
        counts = totals["counts"][:, None]
        new = jnp.where(counts > 0, totals["sums"] / jnp.maximum(counts, 1.0), old).astype(old.dtype)
        flat = traverse_util.flatten_dict(variables["params"], sep="/")
        flat[self.centres] = new
        if self.width_rule:
            old_widths = self._get(variables, self.widths)
            spread = float(np.sqrt(totals["sse"] / max(float(totals["counts"].sum()), 1.0)))
            flat[self.widths] = jnp.asarray(widths(new, self.width_rule, scale=self.width_scale,
                                                   neighbours=self.width_neighbours, spread=spread), old_widths.dtype)
        return {**variables, "params": traverse_util.unflatten_dict(flat, sep="/")}

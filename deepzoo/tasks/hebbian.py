"""Hebbian storage: a Hopfield network's weights are the sum of its patterns' outer products.

Hopfield 1982 (PNAS 79, eq. 2), normalised as in Amit, Gutfreund & Sompolinsky 1985:

    W = (1/N) sum_mu xi^mu xi^mu^T,   W_ii = 0             patterns xi^mu (N,) of +-1

A closed-form learner for deepzoo/train/fit.py: statistics sums the outer products of a batch's real
patterns (batch["mask"]), solve divides by N and zeroes the diagonal. One pass stores every pattern;
the order of the patterns and of the batches does not matter.

    variables = fit.fit(model, Hebbian(), model.init(key, x), lambda: [{"input": patterns, "mask": mask}])
"""
import dataclasses

import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Hebbian:
    """Hebbian storage of batch[feature] (B, N) +-1 patterns into the `weights` of a Hopfield network."""
    feature: str = "input"

    def statistics(self, model, variables, batch):
        """{"outer": sum over the real patterns of xi xi^T (N, N), "patterns": how many}."""
        x = jnp.asarray(batch[self.feature], jnp.float32)
        x = x.reshape(x.shape[0], -1)
        if x.shape[-1] != model.num_units:
            raise ValueError(f"Hebbian storage: patterns of {x.shape[-1]} values for a Hopfield network of "
                             f"{model.num_units} units; build the model with num_units={x.shape[-1]}.")
        mask = jnp.asarray(batch.get("mask", jnp.ones(x.shape[0])), jnp.float32)
        return {"outer": jnp.einsum("p,pi,pj->ij", mask, x, x), "patterns": jnp.sum(mask)}

    def solve(self, model, variables, totals):
        """`variables` with weights = outer / N, diagonal zeroed (no unit feeds itself)."""
        n = totals["outer"].shape[0]
        weights = totals["outer"] / n * (1.0 - jnp.eye(n, dtype=jnp.float32))
        return {**variables, "params": {**variables["params"], "weights": weights}}

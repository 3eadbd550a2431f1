"""Counting: an n-gram model's table is the number of times each symbol followed each context.

A closed-form learner for deepzoo/train/fit.py (deepzoo/models/ngram.py). On the language_model batches,
{"tokens": (B, L + 1)} with batch["mask"] marking real windows, statistics counts every (context, next)
pair that the model will be asked to predict: tokens[:, :-1] read, tokens[:, 1:] predicted, PAD targets
left out, as the language_model task scores them. solve applies add-k smoothing (Lidstone 1920; Chen &
Goodman 1999, section 2.1): log_counts = log(count + k), which the model normalises over the vocabulary,

    P(w | c) = (count(c, w) + k) / (count(c) + k V).

The counts are kept beside the parameters (the "counts" collection), so a k chosen on validation is one
more solve: Counting(k=...).solve(model, variables, variables["counts"]).

    variables = fit.fit(model, Counting(k=0.1), model.init(key, tokens), lambda: data.eval_batches(train, ...))
"""
import dataclasses

import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Counting:
    """Counts of (context, next token) cells; add-k smoothing with k > 0 (k = 1: Laplace's rule)."""
    k: float = 1.0
    pad_id: int = 0

    def __post_init__(self):
        if not self.k > 0:
            raise ValueError(f"add-k smoothing needs k > 0 (k = 0 gives unseen n-grams probability 0, infinitely "
                             f"many bits); got k={self.k}. Try k=0.01 to 1.")

    def statistics(self, model, variables, batch):
        """{"counts": (cells,)}: how many times each cell's (context, next) pair occurs in the batch's real rows."""
        tokens = batch["tokens"]
        targets = tokens[:, 1:]
        mask = jnp.asarray(batch.get("mask", jnp.ones(tokens.shape[0])), jnp.float32)
        weights = (targets != self.pad_id) * mask[:, None]
        cells = model.apply(variables, tokens[:, :-1], targets, method="cells")
        return {"counts": jnp.zeros(model.num_cells, jnp.float32).at[cells.reshape(-1)].add(weights.reshape(-1))}

    def solve(self, model, variables, totals):
        """{"params": {"log_counts": log(counts + k)}, "counts": the counts}."""
        counts = totals["counts"]
        return {**variables, "params": {"log_counts": jnp.log(counts + self.k)}, "counts": {"counts": counts}}

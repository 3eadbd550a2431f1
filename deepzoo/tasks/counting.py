"""Counting: an n-gram model's table is the number of times each symbol followed each context.

A closed-form learner for deepzoo/train/fit.py (deepzoo/models/ngram.py). On the language_model batches,
{"tokens": (B, L + 1)} with batch["mask"] marking real windows, statistics counts every (context, next)
pair that the model will be asked to predict: tokens[:, :-1] read, tokens[:, 1:] predicted, PAD targets
left out, as the language_model task scores them. solve applies add-k smoothing (Lidstone 1920; Chen &
Goodman 1999, section 2.1): log_counts = log(count + k), which the model normalises over the vocabulary,

    P(w | c) = (count(c, w) + k) / (count(c) + k V).

A hashed table counts each pair in two cells and also sums each cell's pairs' fingerprints; solve keeps the
count of a cell that one pair filled (its fingerprint times the count) and drops the others to k
(deepzoo/models/ngram.py).
The statistics are kept beside the parameters (the "counts" collection), so a k chosen on validation is one
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
        """{"counts": (cells,)}: how many times each cell's (context, next) pairs occur in the batch's real rows;
        for a hashed table (each pair in two cells) also {"fingerprints": (cells, 2)}: the sums of their
        fingerprints' two parts."""
        tokens = batch["tokens"]
        targets = tokens[:, 1:]
        mask = jnp.asarray(batch.get("mask", jnp.ones(tokens.shape[0])), jnp.float32)
        weights = ((targets != self.pad_id) * mask[:, None]).reshape(-1)
        cells, fingerprint = model.apply(variables, tokens[:, :-1], targets, method="cells")
        if fingerprint is None:
            return {"counts": jnp.zeros(model.num_cells, jnp.float32).at[cells.reshape(-1)].add(weights)}
        # hashed: each pair counted in both of its cells, with its fingerprint's two parts (f, g)
        weights = jnp.broadcast_to(weights.reshape(*cells.shape[:-1], 1), cells.shape).reshape(-1)
        parts = jnp.stack([fingerprint // 128, fingerprint % 128], axis=-1)[..., None, :]      # (B, L, 1, 2)
        parts = jnp.broadcast_to(parts, (*cells.shape, 2)).reshape(-1, 2) * weights.astype(jnp.int32)[:, None]
        cells = cells.reshape(-1)
        return {"counts": jnp.zeros(model.num_cells, jnp.float32).at[cells].add(weights),
                "fingerprints": jnp.zeros((model.num_cells, 2), jnp.int32).at[cells].add(parts)}

    def solve(self, model, variables, totals):
        """{"params": {"log_counts": log(counts + k)[, "owners", "log_k"]}, "counts": the statistics}."""
        counts = totals["counts"]
        params = {}
        if "fingerprints" in totals:
            n = counts.astype(jnp.int32)[:, None]
            sums = totals["fingerprints"]
            # One pair (fingerprint f, g) filled the cell iff both sums are n times a whole number; a mixture
            # can pass only with fingerprints that none of its own pairs has.
            single = (n[:, 0] > 0) & jnp.all(sums % jnp.maximum(n, 1) == 0, axis=-1)
            owner = sums // jnp.maximum(n, 1)
            params["owners"] = jnp.where(single, owner[:, 0] * 128 + owner[:, 1], 0)
            params["log_k"] = jnp.log(jnp.float32(self.k))
            counts = jnp.where(single, counts, 0.0)
        params["log_counts"] = jnp.log(counts + self.k)
        return {**variables, "params": params, "counts": dict(totals)}

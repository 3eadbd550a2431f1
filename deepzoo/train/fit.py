"""The shared fit of the closed-form learners: sums of statistics over one pass of the data, then one solve.

Hebbian storage (a Hopfield network's weights are the sum of the patterns' outer products), counting (an
n-gram model's table), least squares (a readout from the normal equations H^T H w = H^T y) and a Lloyd
step of k-means (the sums and counts of the points nearest each centre) learn this way; none needs a
loop of its own. A learner (in deepzoo/tasks/, beside the losses of the learners that descend a gradient) gives

    statistics(model, variables, batch) -> a pytree of sums over the batch's real rows (batch["mask"])
    solve(model, variables, totals) -> the new variables

    variables = fit.fit(model, learner, variables, lambda: data.eval_batches(source, global_batch_size=1000))

The statistics are sums, like the metrics' (sum, count) pairs, so they add up exactly over batches, and over
the devices of a mesh when the batch is sharded (jit sums the shards). An iterative learner (k-means) calls
fit again, one solve per pass.
"""
import contextlib
from typing import Callable, Iterable

import jax
import jax.numpy as jnp


def fit(model, learner, variables, batches: Callable[[], Iterable[dict]], *, passes: int = 1):
    """`variables` after `passes` rounds of: statistics summed over one pass of `batches()`, then solved.
    A learner with `float64 = True` sums in float64: 64-bit types are enabled for its fit only."""
    with jax.enable_x64(True) if getattr(learner, "float64", False) else contextlib.nullcontext():
        return _fit(model, learner, variables, batches, passes)


def _fit(model, learner, variables, batches, passes):
    statistics = jax.jit(lambda v, b: learner.statistics(model, v, b))
    for _ in range(passes):
        totals = None
        for batch in batches():
            sums = statistics(variables, batch)
            totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
        if totals is None:
            raise ValueError("fit: the data gave no batch; check the split and the batch size.")
        variables = learner.solve(model, variables, totals)
    return variables

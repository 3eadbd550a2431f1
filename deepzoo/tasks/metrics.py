"""Metrics travel as (sum, count) pairs, so they add up exactly across devices, microbatches and steps."""
import jax
import jax.numpy as jnp
import numpy as np

Metrics = dict  # name -> (sum, count)


def pair(values, weights):
    """A (sum, count) pair of per-example `values` with 0/1 `weights`."""
    values = jnp.asarray(values, jnp.float32)
    weights = jnp.broadcast_to(jnp.asarray(weights, jnp.float32), values.shape)
    return (jnp.sum(values * weights), jnp.sum(weights))


def add(a: Metrics, b: Metrics) -> Metrics:
    """Two metrics dicts of the same names added pair by pair: (sum_a + sum_b, count_a + count_b)."""
    return jax.tree.map(jnp.add, a, b)


def means(m: Metrics) -> dict[str, float]:
    """Host-side: {name: sum / count} of fetched metrics."""
    return {k: float(np.asarray(s) / max(float(np.asarray(c)), 1e-12)) for k, (s, c) in m.items()}

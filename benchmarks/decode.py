"""Decoding time per token against the prefix length, with and without the key/value cache.

    .venv/bin/python benchmarks/decode.py     # writes benchmarks/results/decode.json and decode.png

The Transformer base (6 + 6 layers, d 512, 8 heads; a 37,000-piece vocabulary), 8 sentences of 32
source tokens, encoded once. Without the cache a new token runs the decoder over the whole prefix
again (its cost grows with the prefix: the O(T) projections and FFNs of T positions, O(T^2) attention);
with it, one decode_step projects the new position only and attends over the cache, whose size is
fixed at start_decoding (max_length), so its time is flat in the prefix.
"""
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import write  # noqa: E402

from deepzoo import models  # noqa: E402

PREFIXES = (8, 16, 32, 64, 128, 256)
BATCH, SOURCE_LENGTH, MAX_LENGTH = 8, 32, 256


def best_time(fn, *args, repeats: int = 5) -> float:
    jax.block_until_ready(fn(*args))  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    model = models.get("transformer_base", max_length=MAX_LENGTH, dropout_rate=0.0)
    rng = np.random.default_rng(0)
    source = jnp.asarray(rng.integers(4, 37000, (BATCH, SOURCE_LENGTH)), jnp.int32)
    target = jnp.asarray(rng.integers(4, 37000, (BATCH, MAX_LENGTH)), jnp.int32)
    variables = jax.jit(model.init)(jax.random.key(0), source, target[:, :8])
    memory, memory_mask = jax.jit(lambda v, s: model.apply(v, s, method="encode"))(variables, source)

    # Without the cache: the decoder over the whole prefix, keeping the last position's logits.
    full = jax.jit(lambda v, prefix: model.apply(v, memory, memory_mask, prefix, method="decode")[:, -1])
    # With it: one step at position T - 1, the cache holding the T - 1 positions before it.
    step = jax.jit(lambda v, tokens, state: model.apply(v, tokens, state, method="decode_step"))
    start = jax.jit(lambda v, s: model.apply(v, s, MAX_LENGTH, method="start_decoding"))(variables, source)

    rows = []
    for length in PREFIXES:
        state = {**start, "cache": [{**c, "index": jnp.int32(length - 1)} for c in start["cache"]]}
        uncached = best_time(full, variables, target[:, :length])
        cached = best_time(step, variables, target[:, length - 1], state)
        rows.append({"prefix": length, "uncached_ms_per_token": 1e3 * uncached, "cached_ms_per_token": 1e3 * cached,
                     "speedup": uncached / cached})
        print(f"prefix {length:4d}: without cache {1e3 * uncached:8.2f} ms/token, with cache {1e3 * cached:6.2f} "
              f"ms/token ({uncached / cached:.1f}x)", flush=True)
    plot(rows, os.path.join(os.path.dirname(__file__), "results", "decode.png"))
    write("decode", {"model": "transformer_base (vocabulary 37,000)", "batch": BATCH, "source_length": SOURCE_LENGTH,
                     "cache_length": MAX_LENGTH, "rows": rows})


def plot(rows, path):
    import matplotlib  # noqa: PLC0415
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    prefixes = [r["prefix"] for r in rows]
    ax.plot(prefixes, [r["uncached_ms_per_token"] for r in rows], "o-", label="without cache (whole prefix again)")
    ax.plot(prefixes, [r["cached_ms_per_token"] for r in rows], "o-", label="with key/value cache")
    ax.set(xscale="log", yscale="log", xlabel="prefix length (tokens)", ylabel="ms per new token (batch 8)",
           title="Transformer base: decoding time per token")
    ax.set_xticks(prefixes, [str(p) for p in prefixes])
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()

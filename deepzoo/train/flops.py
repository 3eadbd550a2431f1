"""Model FLOPs utilisation (MFU): the FLOPs a train step does, per second, over what the machine's
matrix multiplier can do, measured rather than taken from a datasheet.

    flops = step_flops(jitted_step, state, batch)     # XLA's count for the whole (global) step
    peak = matmul_peak()                              # FLOP/s of one local device times the device count
    mfu = flops * steps_per_sec / peak

XLA counts the operations of the program it is given (forward, backward, optimizer); a loop body
(gradient accumulation's scan) is counted once, so MFU is understated for grad_accum_steps > 1.
"""
import functools
import time

import jax
import jax.numpy as jnp


def step_flops(jitted, *args) -> float:
    """FLOPs of one call of `jitted` on arguments shaped like args (nothing runs or compiles)."""
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x),
                                                           sharding=getattr(x, "sharding", None)), args)
    cost = jitted.lower(*abstract).cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost   # older JAX: one dict per program
    return float((cost or {}).get("flops", 0.0))


@functools.cache
def matmul_peak(dtype: str = "float32", size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of a size x size matmul chain on the first local device, times the number of devices:
    what the machine's matrix units sustain on a large, well-shaped product (~200 GFLOP/s f32 on this
    2-core CPU). Measured once per process (about a second)."""
    device = jax.local_devices()[0]
    a = jax.device_put(jnp.ones((size, size), dtype) / size, device)

    @jax.jit
    def chain(x):
        for _ in range(repeats):
            x = x @ a
        return x
    chain(a).block_until_ready()                       # compile and warm up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        chain(a).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size ** 3 * repeats / best * jax.device_count()

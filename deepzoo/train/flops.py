"""Model FLOPs utilisation (MFU, Chowdhery et al. 2022, appendix B) and hardware FLOPs utilisation (HFU).

    model = model_flops(model, variables, inputs)     # the model's own count: 3 x the forward's 2 x MACs
    hardware = step_flops(jitted_step, state, batch)  # XLA's count of the compiled step
    peak = peak_flops("bfloat16")                     # per device times the device count: datasheet or measured
    mfu, hfu = model * steps_per_sec / peak, hardware * steps_per_sec / peak

The model count is the papers' convention: a train step costs three forwards (the backward two: gradients with
respect to activations and to weights), a forward 2 FLOPs per multiply-accumulate of its matmuls and convolutions
(deepzoo/analysis/complexity.py), attention's matmuls counted whole, as computed, causal or not (PaLM's). It
ignores elementwise work and counts gradients a step does not need (those of the first layer's input), so it is
the same on every machine and for every compiler's choices; XLA's count is what the compiled program does
(elementwise work, the optimizer, rematerialisation included; a loop body, as gradient accumulation's scan,
counted once). The two agree within 2% on a Transformer (tests/test_flops.py).

The peak is the vendor's dense figure for the accelerator's kind (PEAK_FLOPS; float32 matmuls run as TF32 on
NVIDIA GPUs and as bfloat16 passes on TPUs at JAX's default precision) or, for CPUs and unknown kinds, a matmul
measured here (matmul_peak).
"""
import functools
import time

import jax
import jax.numpy as jnp


# Dense matmul FLOP/s per chip, from the datasheets: {device_kind substring: {dtype: FLOP/s}}.
PEAK_FLOPS = {
    "H200": {"bfloat16": 989e12, "float32": 495e12},     # SXM; float32 as TF32
    "H100": {"bfloat16": 989e12, "float32": 495e12},     # SXM ("NVIDIA H100 80GB HBM3")
    "A100": {"bfloat16": 312e12, "float32": 156e12},
    "TPU v4": {"bfloat16": 275e12, "float32": 275e12},
    "TPU v5 lite": {"bfloat16": 197e12, "float32": 197e12},   # v5e
    "TPU v5p": {"bfloat16": 459e12, "float32": 459e12},
    "TPU v5": {"bfloat16": 459e12, "float32": 459e12},        # v5p's kind on some runtimes
}


def peak_flops(dtype: str = "float32") -> float:
    """FLOP/s of all devices at `dtype`: the datasheet's per chip (PEAK_FLOPS) times the device count, or for a
    CPU or a kind not in the table the measured matmul_peak."""
    kind = jax.devices()[0].device_kind
    for name, peaks in PEAK_FLOPS.items():
        if name in kind and jax.devices()[0].platform != "cpu":
            return peaks[str(jnp.dtype(dtype))] * jax.device_count()
    return matmul_peak(str(jnp.dtype(dtype)))


def model_flops(model, variables, inputs: tuple) -> float:
    """The model FLOPs of one train step on `inputs` (the whole batch): 3 x 2 x the forward's multiply-accumulates."""
    from deepzoo.analysis.complexity import count_macs   # noqa: PLC0415 (analysis is a leaf; imported on use)
    return 6.0 * count_macs(lambda v, *xs: model.apply(v, *xs, train=False), variables, *inputs)


def step_flops(jitted, *args) -> float:
    """XLA's count of FLOPs in one call of `jitted` on arguments shaped like args (nothing runs or compiles)."""
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

"""The XLA flags deepzoo runs with by default: set once, when deepzoo is imported, and overridable.

XLA reads the XLA_FLAGS environment variable when its first backend starts, so `import deepzoo` before the first
JAX computation. A flag already in XLA_FLAGS (any value) is left as the user set it; DEEPZOO_XLA_DEFAULTS=0
adds none. Each default was measured on deepzoo's train steps (benchmarks/xla_cpu_options.py, docs/benchmarks.md);
the one here is an XLA:CPU option (not yet run on a GPU or TPU with it set).
"""
import os

DEFAULTS = {
    # XLA:CPU hands convolutions to YNNPACK by default, which runs those of 64 channels (ResNet's first stage) on
    # one core of two; XLA's Eigen kernels use both (benchmarks/convs.py). Train steps on 2 cores, three measurements:
    # ResNet-18 1.15-1.35x, ResNet-50 1.04-1.27x faster. Matrix products stay with YNNPACK (the LSTM's step took
    # 1.7x as long without it).
    "xla_cpu_experimental_ynn_fusion_type": "-individual_convolution",
}


def apply(environ=os.environ) -> str:
    """Adds DEFAULTS that XLA_FLAGS does not set already to environ's XLA_FLAGS; returns the result."""
    flags = environ.get("XLA_FLAGS", "")
    if environ.get("DEEPZOO_XLA_DEFAULTS", "1") != "0":
        given = {flag.lstrip("-").split("=")[0] for flag in flags.split()}
        added = [f"--{name}={value}" for name, value in DEFAULTS.items() if name not in given]
        flags = " ".join([flags, *added]).strip()
        environ["XLA_FLAGS"] = flags
    return flags

"""One convolution at a time: forward, input gradient and kernel gradient, their times and the cores they keep busy.

    .venv/bin/python benchmarks/convs.py                 # writes benchmarks/results/convs.json
    <env with torch>/bin/python benchmarks/convs.py      # adds PyTorch's times beside them

The shapes are the convolutions of the peers in benchmarks/peers.py (ResNet-18 on CIFAR, ResNet-50, LeNet-5), each
jitted alone, NHWC / HWIO as flax's. Each runs twice, in its own process: with XLA's own defaults and with deepzoo's
(deepzoo/xla_flags.py); "cores" is process CPU time over wall time during the timed calls (2.0: both cores of this
machine busy). The figure is the best of 3 medians of 5 calls, in milliseconds.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SHAPES = {  # name: (batch, height, width, in channels, out channels, kernel, stride)
    "resnet18 stage 1, 3x3 64": (64, 32, 32, 64, 64, 3, 1),
    "resnet18 stage 2, 3x3 128": (64, 16, 16, 128, 128, 3, 1),
    "resnet18 stage 4, 3x3 512": (64, 4, 4, 512, 512, 3, 1),
    "resnet50 stem, 7x7/2 64": (8, 224, 224, 3, 64, 7, 2),
    "resnet50 stage 1, 3x3 64": (8, 56, 56, 64, 64, 3, 1),
    "resnet50 stage 1, 1x1 64->256": (8, 56, 56, 64, 256, 1, 1),
    "lenet5 conv1, 5x5 1->6": (256, 28, 28, 1, 6, 5, 1),
}
OPS = ("forward", "input gradient", "kernel gradient")


def timed(fn) -> tuple[float, float]:
    """(best of 3 medians of 5 calls in ms, CPU time / wall time over them)."""
    fn()
    medians, cpu, wall = [], 0.0, 0.0
    for _ in range(3):
        times = []
        for _ in range(5):
            c, t = time.process_time(), time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
            cpu, wall = cpu + time.process_time() - c, wall + times[-1]
        medians.append(statistics.median(times))
    return round(1000 * min(medians), 2), round(cpu / wall, 2)


def jax_ops(n, h, w, cin, cout, k, s):
    import jax  # noqa: PLC0415  (in the child, after XLA_FLAGS)
    import jax.numpy as jnp  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(n, h, w, cin)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(k, k, cin, cout)) * 0.1, jnp.float32)

    def conv(x, kernel):
        return jax.lax.conv_general_dilated(x, kernel, (s, s), [(k // 2, k // 2)] * 2,
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))
    dy = jnp.ones_like(conv(x, kernel))
    forward = jax.jit(conv)
    dx = jax.jit(lambda x, kernel, dy: jax.vjp(lambda x: conv(x, kernel), x)[1](dy)[0])
    dk = jax.jit(lambda x, kernel, dy: jax.vjp(lambda kernel: conv(x, kernel), kernel)[1](dy)[0])
    return [lambda: forward(x, kernel).block_until_ready(), lambda: dx(x, kernel, dy).block_until_ready(),
            lambda: dk(x, kernel, dy).block_until_ready()]


def torch_ops(torch, n, h, w, cin, cout, k, s):
    x, kernel = torch.randn(n, cin, h, w), torch.randn(cout, cin, k, k) * 0.1
    conv, grad = torch.nn.functional.conv2d, torch.nn.grad
    dy = torch.ones_like(conv(x, kernel, stride=s, padding=k // 2))
    return [lambda: conv(x, kernel, stride=s, padding=k // 2),
            lambda: grad.conv2d_input(x.shape, kernel, dy, stride=s, padding=k // 2),
            lambda: grad.conv2d_weight(x, kernel.shape, dy, stride=s, padding=k // 2)]


def child(side: str) -> dict:
    if side == "pytorch":
        import torch  # noqa: PLC0415
        torch.set_num_threads(os.cpu_count())
        make = lambda shape: torch_ops(torch, *shape)  # noqa: E731
    else:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import deepzoo  # noqa: F401,PLC0415  (its XLA flags, unless DEEPZOO_XLA_DEFAULTS=0)
        make = lambda shape: jax_ops(*shape)  # noqa: E731
    return {name: dict(zip(OPS, map(timed, make(shape)))) for name, shape in SHAPES.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)  # internal: one side, timed here
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    sides = {"xla defaults": {"DEEPZOO_XLA_DEFAULTS": "0"}, "deepzoo defaults": {}}
    try:
        import torch  # noqa: F401,PLC0415
        sides["pytorch"] = {}
    except ImportError:
        print("PyTorch is not installed here: deepzoo's side only.")
    results = {}
    for side, env in sides.items():
        out = subprocess.run([sys.executable, __file__, f"--child={side}"], env={**os.environ, **env},
                             capture_output=True, text=True, check=True).stdout
        results[side] = json.loads(out.strip().splitlines()[-1])
    print(f"{'convolution':31s} {'pass':16s} " + " ".join(f"{side:>22s}" for side in results))
    for name in SHAPES:
        for op in OPS:
            cells = [f"{results[side][name][op][0]:9.2f} ms ({results[side][name][op][1]:.2f} cores)"
                     for side in results]
            print(f"{name:31s} {op:16s} " + " ".join(f"{c:>22s}" for c in cells))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import write  # noqa: PLC0415
    write("convs", {"description": " ".join(__doc__.split("\n\n")[2].split()),
                    "ms_and_cores": results, "shapes": {k: list(v) for k, v in SHAPES.items()}})


if __name__ == "__main__":
    main()

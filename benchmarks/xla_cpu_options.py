"""XLA:CPU's options, and bfloat16 compute, against deepzoo's train step: which settings win on this CPU.

    .venv/bin/python benchmarks/xla_cpu_options.py          # writes benchmarks/results/xla_cpu_options.json
    .venv/bin/python benchmarks/xla_cpu_options.py --peers=lenet5,gpt --rounds=3

Each setting runs in its own process (XLA_FLAGS is read once, when JAX starts) on the deepzoo side of
benchmarks/peers.py: the same networks, shapes and SGD step, no PyTorch needed. The figure per setting and network
is the median step time over --rounds rounds of --steps steps after a warm-up, and its ratio to the defaults' (below
1: faster). A flag this jax does not know, or a value it rejects, is recorded as failed with its message. Each
run is added to the runs already recorded in benchmarks/results/xla_cpu_options.json. The settings run without
deepzoo's own defaults (deepzoo/xla_flags.py), so that "default" is XLA's.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# name: (XLA_FLAGS, compute dtype). The first is the reference.
SETTINGS = {
    "default": ("", "float32"),
    "bfloat16 compute": ("", "bfloat16"),
    "legacy runtime (no thunks)": ("--xla_cpu_use_thunk_runtime=false", "float32"),
    "XNNPACK": ("--xla_cpu_use_xnnpack=true", "float32"),
    "oneDNN": ("--xla_cpu_use_onednn=true", "float32"),
    "oneDNN custom calls": ("--xla_cpu_experimental_onednn_custom_call=true", "float32"),
    "Eigen single-threaded": ("--xla_cpu_multi_thread_eigen=false", "float32"),
    "concurrency-optimised scheduler": ("--xla_cpu_enable_concurrency_optimized_scheduler=true", "float32"),
    "512-bit vectors": ("--xla_cpu_prefer_vector_width=512", "float32"),
    "no fusion emitters": ("--xla_cpu_use_fusion_emitters=false", "float32"),
    "YNNPACK fusions off": ("--xla_cpu_experimental_ynn_fusion_type=", "float32"),
    "YNNPACK for dots only": ("--xla_cpu_experimental_ynn_fusion_type=individual_dot", "float32"),
    "YNNPACK without convolutions": ("--xla_cpu_experimental_ynn_fusion_type=-individual_convolution", "float32"),
}
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "xla_cpu_options.json")
PEERS = ("lenet5", "resnet18_cifar", "resnet50", "lstm_lm", "transformer", "gpt")


def child(peers: list[str], dtype: str, rounds: int, steps: int) -> dict:
    """{peer: median seconds per step} in this process, with the XLA_FLAGS it was started with."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from peers import deepzoo_runner, timed  # noqa: PLC0415  (after XLA_FLAGS is in the environment)
    medians = {}
    for name in peers:
        run, _ = deepzoo_runner(name, dtype)
        run(2)  # compile and warm up
        medians[name] = statistics.median(timed(run, steps) for _ in range(rounds))
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated, of: " + ", ".join(PEERS))
    parser.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated names of SETTINGS")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)  # internal: a dtype, run the peers here
    args = parser.parse_args()
    peers = args.peers.split(",")
    if args.child:
        print(json.dumps(child(peers, args.child, args.rounds, args.steps)))
        return
    unknown = (set(peers) - set(PEERS)) | (set(args.settings.split(",")) - set(SETTINGS))
    if unknown:
        sys.exit(f"unknown peers or settings {sorted(unknown)}; peers: {', '.join(PEERS)}; settings: "
                 f"{', '.join(SETTINGS)}.")
    results = {}
    for name in args.settings.split(","):
        flags, dtype = SETTINGS[name]
        env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip(),
               "DEEPZOO_XLA_DEFAULTS": "0"}   # XLA's own defaults and this setting, not deepzoo's (deepzoo/xla_flags.py)
        done = subprocess.run([sys.executable, __file__, f"--child={dtype}", f"--peers={args.peers}",
                               f"--rounds={args.rounds}", f"--steps={args.steps}"],
                              env=env, capture_output=True, text=True)
        if done.returncode:
            results[name] = {"flags": flags, "dtype": dtype, "failed": done.stderr.strip().splitlines()[-1:]}
            print(f"{name:34s} failed: {results[name]['failed']}", flush=True)
            continue
        medians = json.loads(done.stdout.strip().splitlines()[-1])
        results[name] = {"flags": flags, "dtype": dtype, "ms_median": {k: round(1000 * v, 2) for k, v in medians.items()}}
        reference = results.get("default", {}).get("ms_median")
        if reference:
            results[name]["ratio_to_default"] = {k: round(v / reference[k], 3)
                                                 for k, v in results[name]["ms_median"].items() if k in reference}
        print(f"{name:34s} " + "  ".join(f"{k} {v:.1f} ms" for k, v in results[name]["ms_median"].items()), flush=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    append_run({"rounds": args.rounds, "steps_per_round": args.steps, "results": results})


def append_run(run: dict, path: str = OUTPUT):
    """Adds this run, dated, to the runs already in `path`: every setting ever tried keeps its figures."""
    from common import machine  # noqa: PLC0415  (imports jax: the parent's, for the record only)
    runs = []
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        runs = old.get("runs", [old])  # a file of one run, from before runs were kept
    runs.append({"date": time.strftime("%Y-%m-%d"), "machine": machine(), **run})
    with open(path, "w") as f:
        json.dump({"benchmark": "xla_cpu_options", "runs": runs}, f, indent=2)
    print(f"run {len(runs)} added to {path}")


if __name__ == "__main__":
    main()

"""Hopfield networks as associative memories: how many random patterns the classic one holds, and how many more
the modern continuous one retrieves in one step.

Classic (Hopfield 1982; deepzoo/models/hopfield.py): N units of +-1, P random patterns stored by the Hebbian rule
W = (1/N) sum xi xi^T (zero diagonal) through the shared fit (deepzoo/train/fit.py). For loads alpha = P/N from
0.01 to 0.30 and N = 100, 200, 400, several networks each (vmapped: one jit per N, the stored patterns of a
network marked by batch["mask"]), we measure
  - the fraction of the stored patterns that are fixed points (every unit already aligned with its field), and
  - the overlap m = xi . s / N reached by asynchronous recall (random order, until a sweep changes nothing)
    from the pattern with 10% of its bits flipped.
Amit, Gutfreund & Sompolinsky (1985, PRL 55, 1530) found that recall breaks down at alpha_c ~ 0.138 for large N
(below it the retrieval states keep m ~ 0.97; above, only spurious states far from the patterns remain). Exact
fixed points become rare earlier: McEliece et al. (1987, IEEE Trans. Inf. Theory 33, 461) showed that a pattern
is stable in every bit only up to P ~ N / (2 ln N), a load that falls as N grows.

Modern (Ramsauer et al. 2020, "Hopfield networks is all you need"): patterns of d = 64 values of +-1, P from 4 to
65,536 of them, one update xi_new = X softmax(beta X^T xi) from a stored pattern with 10% of its bits flipped; the
bit error of sign(xi_new) against P for several beta, beside the classic network of 64 units after one
synchronous update from the same states.

    python experiments/hopfield.py                       # ~2 min on 2 CPU cores
    python experiments/hopfield.py --trials=4 --sizes=100,200 --output_dir=/tmp/hopfield

Writes results.md, capacity.csv, modern.csv, capacity.png and modern_hopfield.png to --output_dir (default
runs/hopfield; --update_results: experiments/hopfield/, the committed reference).
"""
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
from absl import app, flags, logging

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, models, report  # noqa: E402
from deepzoo.tasks.hebbian import Hebbian  # noqa: E402
from deepzoo.train import fit  # noqa: E402

ALPHA_C = 0.138       # Amit, Gutfreund & Sompolinsky 1985

FLAGS = flags.FLAGS
flags.DEFINE_list("sizes", ["100", "200", "400"], "Numbers of units N of the classic networks.")
flags.DEFINE_integer("trials", 8, "Networks (independent sets of random patterns) per size and load.")
flags.DEFINE_float("max_load", 0.30, "The largest load alpha = P/N; loads go from 0.01 in steps of 0.01.")
flags.DEFINE_float("flip", 0.1, "Fraction of a pattern's bits flipped before recall.")
flags.DEFINE_integer("max_sweeps", 20, "Asynchronous recall stops after this many sweeps if it has not settled.")
flags.DEFINE_integer("dim", 64, "The modern network's pattern dimension d (and the classic comparison's N).")
flags.DEFINE_list("patterns", [str(2 ** i) for i in range(2, 17)],
                  "Numbers of stored patterns P of the modern network.")
flags.DEFINE_list("betas", ["0.05", "0.1", "0.2", "1"], "Inverse temperatures beta of the modern network.")
flags.DEFINE_integer("queries", 256, "States recalled per number of patterns in the modern network.")
flags.DEFINE_integer("seed", 0, "Seed of the patterns, the flipped bits and the update orders.")
report.define_flags()

FIXED = ("sizes", "trials", "max_load", "flip", "max_sweeps", "dim", "patterns", "betas", "queries", "seed")


@dataclasses.dataclass(frozen=True)
class Vmapped:
    """A learner over a stack of independent networks: variables and batches carry a leading network axis."""
    learner: Any

    def statistics(self, model, variables, batch):
        return jax.vmap(lambda v, b: self.learner.statistics(model, v, b))(variables, batch)

    def solve(self, model, variables, totals):
        return jax.vmap(lambda v, t: self.learner.solve(model, v, t))(variables, totals)


def flip_bits(key, x, fraction: float):
    """x (..., N) of +-1 with round(fraction N) bits of each row flipped, at random places."""
    n = x.shape[-1]
    u = jax.random.uniform(key, x.shape)
    ranks = jnp.argsort(jnp.argsort(u, axis=-1), axis=-1)
    return jnp.where(ranks < round(fraction * n), -x, x)


def capacity(n: int, loads: np.ndarray, trials: int, key) -> list[dict]:
    """Per load: mean and standard error over `trials` networks of N = n units of the fraction of stored patterns
    that are fixed points and of the recall overlap from flipped bits."""
    model = models.get("hopfield", num_units=n)
    counts = np.round(loads * n).astype(int)                       # P per load
    p_max = int(counts.max())
    nets = len(loads) * trials
    k_patterns, k_flip, k_order = jax.random.split(key, 3)
    patterns = jax.random.rademacher(k_patterns, (nets, p_max, n), jnp.float32)
    mask = jnp.asarray(np.repeat(np.arange(p_max)[None] < counts[:, None], trials, axis=0), jnp.float32)
    variables = jax.vmap(lambda _: model.init(jax.random.key(0), jnp.ones((1, n))))(jnp.arange(nets))
    variables = fit.fit(model, Vmapped(Hebbian()), variables, lambda: [{"input": patterns, "mask": mask}])

    @jax.jit
    def measure(variables, patterns, mask, keys):
        fixed = jnp.all(model.apply(variables, patterns) == patterns, axis=-1)             # one synchronous step
        noisy = flip_bits(keys[0], patterns, FLAGS.flip)
        recalled = model.apply(variables, noisy, keys[1], FLAGS.max_sweeps, method="recall_async")
        overlap = jnp.mean(recalled * patterns, axis=-1)
        real = jnp.sum(mask)
        return jnp.sum(fixed * mask) / real, jnp.sum(overlap * mask) / real

    keys = jnp.stack([jax.random.split(k_flip, nets), jax.random.split(k_order, nets)], axis=1)
    fixed, overlap = jax.device_get(jax.vmap(measure)(variables, patterns, mask, keys))
    rows = []
    for i, (alpha, p) in enumerate(zip(loads, counts)):
        f, m = fixed[i * trials:(i + 1) * trials], overlap[i * trials:(i + 1) * trials]
        rows.append({"N": n, "alpha": f"{alpha:.2f}", "P": int(p), "trials": trials,
                     "fixed_points": f"{f.mean():.4f}", "fixed_points_se": f"{f.std(ddof=1) / math.sqrt(trials):.4f}",
                     "overlap": f"{m.mean():.4f}", "overlap_se": f"{m.std(ddof=1) / math.sqrt(trials):.4f}"})
    return rows


def crossing(rows: list[dict], column: str, level: float) -> float:
    """The first load at which `column` falls below `level`, linearly interpolated (nan if it never does)."""
    xs = [float(r["alpha"]) for r in rows]
    ys = [float(r[column]) for r in rows]
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if y0 >= level > y1:
            return x0 + (y0 - level) / (y0 - y1) * (x1 - x0)
    return math.nan


def modern(d: int, counts: list[int], betas: list[float], queries: int, key) -> list[dict]:
    """Bit error of sign(one update) from stored patterns with flipped bits: modern network per beta, and the
    classic network of d units (one synchronous step) on the same states."""
    rows = []
    for p in counts:
        k_patterns, k_pick, k_flip = jax.random.split(jax.random.fold_in(key, p), 3)
        stored = jax.random.rademacher(k_patterns, (p, d), jnp.float32)
        picked = stored[jax.random.choice(k_pick, p, (queries,), replace=p < queries)]
        noisy = flip_bits(k_flip, picked, FLAGS.flip)
        row = {"P": p, "P_over_d": f"{p / d:g}"}
        for beta in betas:
            model = models.get("modern_hopfield", num_patterns=p, features=d, beta=beta)
            new = model.apply({"params": {"patterns": stored}}, noisy)
            row[f"beta_{beta:g}"] = f"{float(jnp.mean(jnp.sign(new) != picked)):.4f}"
        classic = models.get("hopfield", num_units=d)
        variables = fit.fit(classic, Hebbian(), classic.init(jax.random.key(0), jnp.ones((1, d))),
                            lambda: [{"input": stored[i:i + 4096]} for i in range(0, p, 4096)])
        row["classic"] = f"{float(jnp.mean(classic.apply(variables, noisy) != picked)):.4f}"
        rows.append(row)
    return rows


def plot_capacity(rows: list[dict], path: Path):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    sizes = list(dict.fromkeys(r["N"] for r in rows))
    for i, n in enumerate(sizes):
        mine = [r for r in rows if r["N"] == n]
        alpha = np.array([float(r["alpha"]) for r in mine])
        for ax, column in zip(axes, ("fixed_points", "overlap")):
            y = np.array([float(r[column]) for r in mine])
            se = np.array([float(r[f"{column}_se"]) for r in mine])
            ax.plot(alpha, y, "o-", color=f"C{i}", markersize=3, label=f"N = {n}")
            ax.fill_between(alpha, y - 2 * se, y + 2 * se, color=f"C{i}", alpha=0.2, linewidth=0)
        axes[0].axvline(1 / (2 * math.log(int(n))), color=f"C{i}", linestyle=":", linewidth=1)
    for ax in axes:
        ax.axvline(ALPHA_C, color="k", linestyle="--", linewidth=1, label=r"$\alpha_c$ = 0.138 (AGS 1985)")
        ax.set_xlabel(r"load $\alpha = P / N$")
        ax.set_xlim(0, max(float(r["alpha"]) for r in rows) + 0.005)
        ax.grid(alpha=0.3)
    axes[0].plot([], [], "k:", linewidth=1, label=r"$1 / (2 \ln N)$ (McEliece et al. 1987)")
    axes[0].set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("fraction of stored patterns that are fixed points")
    axes[0].set_title("Stored patterns that are exact fixed points")
    axes[1].set_ylim(0, 1.02)
    axes[1].axhline(1 - 2 * FLAGS.flip, color="gray", linewidth=1, linestyle="-.",
                    label=f"overlap of the start ({FLAGS.flip:.0%} flipped)")
    axes[1].set_ylabel(r"overlap $m = \xi \cdot s / N$ after recall")
    axes[1].set_title(f"Asynchronous recall from {FLAGS.flip:.0%} flipped bits")
    for ax in axes:
        ax.legend(fontsize=8, loc="lower left")
    fig.suptitle("Hopfield network capacity (Hebbian storage, random patterns; mean of the networks, "
                 "band: 2 standard errors)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_modern(rows: list[dict], betas: list[float], d: int, path: Path):
    fig, ax = plt.subplots(figsize=(6.8, 4.3))
    p = [r["P"] for r in rows]
    for i, beta in enumerate(betas):
        ax.plot(p, [float(r[f"beta_{beta:g}"]) for r in rows], "o-", color=f"C{i}", markersize=4,
                label=rf"modern, $\beta$ = {beta:g}")
    ax.plot(p, [float(r["classic"]) for r in rows], "s--", color="k", markersize=4,
            label=f"classic Hebbian, N = {d} (one synchronous step)")
    start = round(FLAGS.flip * d) / d
    ax.axhline(start, color="gray", linestyle="-.", linewidth=1, label=f"before the update ({start:.1%})")
    ax.axvline(ALPHA_C * d, color="gray", linestyle=":", linewidth=1, label=rf"0.138 d = {ALPHA_C * d:.1f} patterns")
    ax.set_xscale("log", base=2)
    ax.set_ylim(-0.01, 0.52)
    ax.set_xlabel(f"stored patterns P (d = {d} bits each)")
    ax.set_ylabel("fraction of bits wrong after one update")
    ax.set_title(rf"Modern Hopfield: one update $X\,\mathrm{{softmax}}(\beta X^T \xi)$ "
                 rf"from {FLAGS.flip:.0%} flipped bits", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv):
    del argv
    start = time.time()
    try:
        sizes = [int(n) for n in FLAGS.sizes]
        counts = [int(p) for p in FLAGS.patterns]
        betas = [float(b) for b in FLAGS.betas]
    except ValueError as e:
        raise app.UsageError(f"--sizes, --patterns and --betas take comma-separated numbers: {e}") from None
    if FLAGS.trials < 2:
        raise app.UsageError(f"--trials={FLAGS.trials}: give at least 2 networks per load (for the error bars).")
    if not 0.01 <= FLAGS.max_load <= 1.0:
        raise app.UsageError(f"--max_load={FLAGS.max_load}: give a load between 0.01 and 1.")
    if not 0.0 <= FLAGS.flip < 0.5:
        raise app.UsageError(f"--flip={FLAGS.flip}: give a fraction of bits in [0, 0.5).")
    output_dir = report.output_dir(__file__, fixed=FIXED)
    key = jax.random.key(FLAGS.seed)
    loads = np.round(np.arange(0.01, FLAGS.max_load + 1e-9, 0.01), 2)

    rows = []
    for n in sizes:
        t = time.time()
        rows += capacity(n, loads, FLAGS.trials, jax.random.fold_in(key, n))
        logging.info("N = %d: %d networks in %.0f s", n, len(loads) * FLAGS.trials, time.time() - t)
    report.write_rows(output_dir / "capacity.csv", rows)
    plot_capacity(rows, output_dir / "capacity.png")
    modern_rows = modern(FLAGS.dim, counts, betas, FLAGS.queries, jax.random.fold_in(key, 1))
    report.write_rows(output_dir / "modern.csv", modern_rows)
    plot_modern(modern_rows, betas, FLAGS.dim, output_dir / "modern_hopfield.png")
    minutes = (time.time() - start) / 60

    summary = []
    for n in sizes:
        mine = [r for r in rows if r["N"] == n]
        summary.append({"N": n, "recall (overlap falls below 0.9)": f"{crossing(mine, 'overlap', 0.9):.3f}",
                        "fixed points (half of the patterns)": f"{crossing(mine, 'fixed_points', 0.5):.3f}",
                        "1 / (2 ln N)": f"{1 / (2 * math.log(n)):.3f}"})
    summary.append({"N": "infinite (AGS 1985)", "recall (overlap falls below 0.9)": f"{ALPHA_C} (published)",
                    "fixed points (half of the patterns)": "0", "1 / (2 ln N)": "0"})
    modern_table = [{"P": r["P"], "P / d": r["P_over_d"], **{rf"beta = {b:g}": r[f"beta_{b:g}"] for b in betas},
                     "classic": r["classic"]} for r in modern_rows]
    lines = ["# Hopfield networks: capacity of the classic network, one-step retrieval of the modern one", "",
             f"Random +-1 patterns; {FLAGS.trials} networks per load and size, loads alpha = P/N from 0.01 to "
             f"{FLAGS.max_load:.2f}. Recall: asynchronous updates in random order from the pattern with "
             f"{FLAGS.flip:.0%} of its bits flipped, until a sweep changes nothing (at most {FLAGS.max_sweeps} "
             f"sweeps). "
             f"Regenerate with `python experiments/hopfield.py --update_results` ({minutes:.1f} min on 2 CPU cores).",
             "", "## Critical load", "",
             "The load at which recall breaks down, against the published alpha_c = 0.138 of Amit, Gutfreund & "
             "Sompolinsky (1985), for infinitely many units; and the load at which only half of the stored patterns "
             "are still exact fixed points, which falls with N like 1 / (2 ln N) (McEliece et al. 1987).", ""]
    lines += report.markdown_table(summary)
    lines += ["", "![capacity](capacity.png)", "",
              "Numbers per load: [capacity.csv](capacity.csv).", "",
              f"## Modern Hopfield network (Ramsauer et al. 2020), d = {FLAGS.dim}", "",
              f"Fraction of bits wrong after one update xi_new = X softmax(beta X^T xi) from a stored pattern with "
              f"{FLAGS.flip:.0%} of its bits flipped ({FLAGS.queries} states per P), beside the classic Hebbian "
              f"network of {FLAGS.dim} units after one synchronous update of the same states (capacity ~ 0.138 d = "
              f"{ALPHA_C * FLAGS.dim:.0f} patterns).", ""]
    lines += report.markdown_table(modern_table)
    lines += ["", "![modern Hopfield](modern_hopfield.png)", ""]
    (output_dir / "results.md").write_text("\n".join(lines))
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    cli.run(main)

"""An RBF network classifying scikit-learn's 8x8 digits: test accuracy against the number of centres.

Broomhead and Lowe (1988) fit a network of radial basis functions in two separate, linear-algebra steps: place
the centres, then solve the output weights by least squares. Here the registry's `rbf_network` (K Gaussian
units on the 64 pixels, a linear readout to 10 outputs) is fitted entirely by the shared fit
(deepzoo/train/fit.py), with no gradient descent:
  1. centres by k-means: a k-means++ start, then Lloyd steps, each one pass of the fit (KMeans);
  2. widths by a rule on the centres: each unit's width is the root mean square distance to its 2 nearest
     centres (Moody & Darken 1989), times --width_scale;
  3. the readout by least squares on the one-hot labels, with a small ridge (LeastSquares); a digit's class is
     the largest output.
The same network with K training digits drawn at random as its centres (no k-means) and a linear
least-squares classifier on the raw pixels are the baselines.

    python experiments/rbf.py        # about 1 minute on 2 CPU cores

Writes rbf.png, results.md and results.csv to --output_dir (default runs/rbf; --update_results:
experiments/rbf/).
"""
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
from absl import flags, logging

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, data, models, report  # noqa: E402
from deepzoo.tasks.kmeans import KMeans, initial_centres  # noqa: E402
from deepzoo.tasks.least_squares import LeastSquares  # noqa: E402
from deepzoo.train import fit  # noqa: E402

DEFAULT_CENTRES = (10, 20, 50, 100, 200, 400, 800)


def fit_rbf(train, num_centres: int, *, kmeans: bool = True, passes: int = 20, ridge: float = 1e-3,
            width_scale: float = 1.0, seed: int = 0):
    """The RBF network on the `train` source, fitted by the shared fit -> (model, variables, k-means error per
    digit). With kmeans=False the centres are num_centres training digits drawn at random."""
    x = train.arrays["input"].reshape(len(train), -1)
    model = models.get("rbf_network", num_centres=num_centres, num_outputs=train.num_classes)
    variables = model.init(jax.random.key(seed), x[:1])
    if kmeans:
        start = initial_centres(x, num_centres, seed)
    else:
        start = x[np.random.default_rng(seed).choice(len(x), num_centres, replace=False)]
    variables["params"]["basis"]["centres"] = jnp.asarray(start)
    batches = lambda: data.eval_batches(train, global_batch_size=500)
    # With kmeans=False one pass computes the error and sets the widths but must not move the centres.
    learner = KMeans(width_rule="nearest", width_neighbours=2, width_scale=width_scale)
    fitted = fit.fit(model, learner, variables, batches, passes=passes if kmeans else 1)
    if not kmeans:
        fitted["params"]["basis"]["centres"] = variables["params"]["basis"]["centres"]
    # The k-means error of the final centres: one more pass of statistics.
    stats = jax.jit(lambda v, b: learner.statistics(model, v, b))
    sse = sum(float(stats(fitted, b)["sse"]) for b in batches())
    fitted = fit.fit(model, LeastSquares(target="label", ridge=ridge), fitted, batches)
    return model, fitted, sse / len(x)


def accuracy(model, variables, source) -> float:
    x, y = source.arrays["input"], source.arrays["label"]
    return float(np.mean(np.argmax(np.asarray(jax.jit(model.apply)(variables, x)), -1) == y))


def linear_baseline(train, test, ridge: float) -> float:
    """A linear least-squares classifier on the pixels (with a bias, the same ridge): test accuracy."""
    def design(s):
        return np.c_[s.arrays["input"].reshape(len(s), -1).astype(np.float64), np.ones(len(s))]
    h = design(train)
    penalty = np.eye(h.shape[1])
    penalty[-1, -1] = 0.0
    w = np.linalg.solve(h.T @ h + ridge * penalty, h.T @ np.eye(train.num_classes)[train.arrays["label"]])
    return float(np.mean(np.argmax(design(test) @ w, -1) == test.arrays["label"]))


def run(output_dir, *, centres=DEFAULT_CENTRES, passes: int = 20, ridge: float = 1e-3, width_scale: float = 1.0,
        seed: int = 0):
    """Fits every size both ways; writes rbf.png, results.md and results.csv to `output_dir`; returns the rows."""
    start = time.perf_counter()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    train, test = data.load("digits", "train"), data.load("digits", "test")
    if max(centres) > len(train):
        raise ValueError(f"--centres: at most {len(train)} centres, one per training digit.")
    rows, shown = [], None
    for k in centres:
        t = time.perf_counter()
        model, variables, error = fit_rbf(train, k, passes=passes, ridge=ridge, width_scale=width_scale, seed=seed)
        r_model, r_variables, r_error = fit_rbf(train, k, kmeans=False, ridge=ridge, width_scale=width_scale,
                                                seed=seed)
        rows.append({"centres": k, "params": sum(int(p.size) for p in jax.tree.leaves(variables["params"])),
                     "kmeans_error": error, "mean_width": float(np.mean(variables["params"]["basis"]["widths"])),
                     "train_accuracy": accuracy(model, variables, train),
                     "test_accuracy": accuracy(model, variables, test),
                     "random_centres_test_accuracy": accuracy(r_model, r_variables, test),
                     "random_centres_kmeans_error": r_error})
        if shown is None or k <= 20:
            shown = (k, np.asarray(variables["params"]["basis"]["centres"]))
        logging.info("%4d centres: test accuracy %.3f (random centres %.3f), %.1f s", k, rows[-1]["test_accuracy"],
                     rows[-1]["random_centres_test_accuracy"], time.perf_counter() - t)
    linear = linear_baseline(train, test, ridge)
    report.write_rows(output_dir / "results.csv", [{k: f"{v:.6g}" if isinstance(v, float) else v
                                                     for k, v in r.items()} for r in rows])
    _write_markdown(output_dir / "results.md", rows, linear, passes, ridge, width_scale, time.perf_counter() - start)
    _plot(output_dir / "rbf.png", rows, linear, shown)
    return rows, linear


def _write_markdown(path, rows, linear, passes, ridge, width_scale, seconds):
    table = [{"centres K": r["centres"], "params": f"{r['params']:,}",
              "k-means error per digit": f"{r['kmeans_error']:.2f}",
              "mean width": f"{r['mean_width']:.2f}",
              "train accuracy": f"{r['train_accuracy']:.1%}", "test accuracy": f"{r['test_accuracy']:.1%}",
              "test accuracy, random centres": f"{r['random_centres_test_accuracy']:.1%}"} for r in rows]
    best = max(rows, key=lambda r: r["test_accuracy"])
    wins = sum(r["test_accuracy"] > r["random_centres_test_accuracy"] for r in rows)
    lines = ["# RBF network on the 8x8 digits: test accuracy against the number of centres", "",
             f"The `rbf_network` fitted by the shared fit, no gradient descent: centres by k-means (k-means++ "
             f"start, {passes} Lloyd steps), each unit's width {width_scale:g} x the root mean square distance to "
             f"its 2 nearest centres (Moody & Darken 1989), the readout by least squares on the one-hot labels "
             f"with ridge {ridge:g}. 1,437 training and 360 test digits (64 pixels in [0, 1]). The k-means error "
             f"is the mean squared distance from a training digit to its nearest centre. The baseline column uses "
             f"K training digits drawn at random as the centres (the same widths rule and readout).", "",
             *report.markdown_table(table), "",
             f"Best: {best['test_accuracy']:.1%} with {best['centres']} centres. k-means centres beat random "
             f"digits at {wins} of {len(rows)} sizes. A linear least-squares classifier on the pixels (same ridge) "
             f"reaches {linear:.1%}.", "",
             "![test accuracy against the number of centres, and the centres of K = 20](rbf.png)", "",
             f"Run time {seconds:.0f} s on 2 CPU cores.", ""]
    path.write_text("\n".join(lines))


def _plot(path, rows, linear, shown):
    fig = plt.figure(figsize=(13, 5.3), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.3, 1])
    ax = left.add_subplot()
    k = [r["centres"] for r in rows]
    ax.semilogx(k, [100 * r["test_accuracy"] for r in rows], "o-", color="tab:green", lw=2,
                label="k-means centres: test")
    ax.semilogx(k, [100 * r["train_accuracy"] for r in rows], "o:", color="tab:green", alpha=0.6,
                label="k-means centres: train")
    ax.semilogx(k, [100 * r["random_centres_test_accuracy"] for r in rows], "s--", color="tab:purple",
                label="random training digits as centres: test")
    ax.axhline(100 * linear, color="0.4", ls="-.", label="linear least squares on the pixels: test")
    ax.set_xticks(k, [str(v) for v in k])
    ax.set_ylim(min(80.0, 100 * min(r["random_centres_test_accuracy"] for r in rows) - 2), 100.5)
    ax.set_xlabel("number of centres K (log scale)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("RBF network on the 8x8 digits (k-means + least squares)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")

    n, centres = shown
    cols = 5
    axes = right.subplots(-(-n // cols), cols, squeeze=False)
    for i, a in enumerate(axes.ravel()):
        a.set_xticks([])
        a.set_yticks([])
        if i < n:
            a.imshow(centres[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        else:
            a.set_axis_off()
    right.suptitle(f"the {n} k-means centres of the network with K = {n}", fontsize=12)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _define_flags():
    flags.DEFINE_list("centres", [str(k) for k in DEFAULT_CENTRES], "Numbers of centres to try.")
    flags.DEFINE_integer("passes", 20, "Lloyd steps of k-means.")
    flags.DEFINE_float("ridge", 1e-3, "Ridge penalty of the least-squares readout.")
    flags.DEFINE_float("width_scale", 1.0, "Multiplies the 2-nearest-centres width rule.")
    flags.DEFINE_integer("seed", 0, "Seed of the k-means++ start and the random centres.")
    report.define_flags()


FIXED = ("centres", "passes", "ridge", "width_scale", "seed")


def main(argv):
    del argv
    f = flags.FLAGS
    centres = [int(k) for k in f.centres]
    if min(centres) < 2:
        raise ValueError("--centres: each must be >= 2 (the width rule measures distances between centres).")
    start, output_dir = time.perf_counter(), report.output_dir(__file__, fixed=FIXED)
    run(output_dir, centres=centres, passes=f.passes, ridge=f.ridge, width_scale=f.width_scale, seed=f.seed)
    logging.info("wrote %s in %.0f s", output_dir, time.perf_counter() - start)


if __name__ == "__main__":
    _define_flags()
    cli.run(main)

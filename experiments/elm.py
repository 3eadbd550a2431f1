"""Extreme learning machines against backpropagation: test accuracy and training time against the hidden
layer's width, on scikit-learn's 8x8 digits and MNIST-5k (Huang, Zhu & Siew 2006).

Huang et al.'s claim: a hidden layer of random sigmoid units that is never trained, with only the readout
solved by least squares, generalises about as well as the same network trained by backpropagation, in a
small fraction of the time. For each width L:
  - the ELM (`elm`: L sigmoid units with weights and biases U(-s, s), the readout by ridge least squares
    through the shared fit, deepzoo/train/fit.py), s and the ridge chosen on the last 10% of the training
    digits, then fitted again on all of them;
  - one hidden layer of L sigmoid units trained by backpropagation through the one train step
    (configs/one_hidden_layer.py: Adam 3e-3, cosine, batch 128, 100 epochs).
Times are wall-clock on this machine, compilation included for both (the ELM's is one pass over the data
and a solve; the network's, its training run).

    python experiments/elm.py                     # both datasets, widths 50 to 2,000; ~5 min on 2 CPU cores
    python experiments/elm.py --datasets=digits --widths=100,1000

The backprop runs are resumable workdirs under --workdir. Writes results.md, results.csv and elm.png to
--output_dir (default <workdir>/elm; --update_results: experiments/elm/).
"""
import sys
import time
from pathlib import Path

import jax
import matplotlib
import numpy as np
from absl import app, flags, logging

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, data, models, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo.tasks.least_squares import LeastSquares  # noqa: E402
from deepzoo.train import fit, trainer  # noqa: E402
from deepzoo.train.checkpoint import quiet_orbax_logs  # noqa: E402
from deepzoo.train.writers import read_metrics  # noqa: E402

DATASETS = ("digits", "mnist5k")
SCALES = (0.03, 0.1, 0.3, 1.0)      # the hidden weights' range s (the paper's is 1; wide inputs saturate it)
RIDGES = (1e-3, 1e-1, 10.0)

FLAGS = flags.FLAGS
flags.DEFINE_list("datasets", list(DATASETS), "Datasets to compare on.")
flags.DEFINE_list("widths", ["50", "100", "200", "500", "1000", "2000"], "Hidden-layer widths L.")
flags.DEFINE_string("workdir", "runs/elm", "The backprop networks' run directories (resumable).")
flags.DEFINE_string("variant", "", "Option of configs/one_hidden_layer.py for the backprop runs ('smoke': tests).")
report.define_flags()


def accuracy(model, variables, arrays) -> float:
    logits = jax.jit(model.apply)(variables, arrays["input"])
    return float(np.mean(np.argmax(np.asarray(logits), -1) == arrays["label"]))


def fit_elm(arrays, width: int, scale: float, ridge: float, seed: int = 0):
    """The ELM of `width` units fitted on `arrays` -> (model, variables, seconds of the fit)."""
    model = models.get("elm", num_hidden=width, num_outputs=10, init_scale=scale)
    variables = model.init(jax.random.key(seed), arrays["input"][:1])
    batches = lambda: data.eval_batches(data.ArraySource(arrays), global_batch_size=1000)
    start = time.perf_counter()
    learner = LeastSquares(target="label", ridge=ridge, float64=True)
    variables = jax.block_until_ready(fit.fit(model, learner, variables, batches))
    return model, variables, time.perf_counter() - start


def select_and_fit(train, width: int):
    """s and the ridge with the best accuracy on the last 10% of `train` (fitted on the rest), then the ELM
    fitted on all of `train` with them -> (model, variables, seconds of that fit, s, ridge)."""
    n = len(train["label"]) * 9 // 10
    fit_part = {k: v[:n] for k, v in train.items()}
    held_out = {k: v[n:] for k, v in train.items()}
    scores = {}
    for scale in SCALES:
        for ridge in RIDGES:
            model, variables, _ = fit_elm(fit_part, width, scale, ridge)
            scores[scale, ridge] = accuracy(model, variables, held_out)
    scale, ridge = max(scores, key=scores.get)
    return (*fit_elm(train, width, scale, ridge), scale, ridge)


def backprop(dataset: str, width: int, workdir: Path):
    """One hidden layer of `width` sigmoid units trained by backprop -> (test accuracy, seconds of the run)."""
    config = config_lib.load(f"configs/one_hidden_layer.py:{dataset}" + (f",{FLAGS.variant}" if FLAGS.variant else ""))
    config.model.kwargs.width = width
    results = trainer.train_and_evaluate(config, workdir)
    seconds = max(r["seconds"] for r in read_metrics(str(workdir)) if "seconds" in r)
    return results["test_accuracy"], seconds


def plot(rows, path: Path):
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(len(datasets), 2, figsize=(11, 3.6 * len(datasets)), squeeze=False)
    for (left, right), name in zip(axes, datasets):
        mine = [r for r in rows if r["dataset"] == name]
        widths = [r["width"] for r in mine]
        left.semilogx(widths, [100 * r["elm_test"] for r in mine], "o-", label="ELM (random layer + least squares)")
        left.semilogx(widths, [100 * r["bp_test"] for r in mine], "s--", label="backprop (100 epochs of Adam)")
        left.set(xlabel="hidden units L (log scale)", ylabel="test accuracy (%)", title=f"{name}: accuracy")
        left.set_xticks(widths, [str(w) for w in widths])
        left.grid(alpha=0.3)
        left.legend(fontsize=8)
        right.loglog(widths, [r["elm_seconds"] for r in mine], "o-", label="ELM fit")
        right.loglog(widths, [r["bp_seconds"] for r in mine], "s--", label="backprop training")
        right.set(xlabel="hidden units L (log scale)", ylabel="seconds (log scale)",
                  title=f"{name}: training time, compilation included")
        right.set_xticks(widths, [str(w) for w in widths])
        right.grid(alpha=0.3, which="both")
        right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


FIXED = ("datasets", "widths", "variant")


def main(argv):
    del argv
    quiet_orbax_logs()
    unknown = [d for d in FLAGS.datasets if d not in DATASETS]
    if unknown:
        raise app.UsageError(f"--datasets: unknown {unknown[0]!r}; known: {', '.join(DATASETS)}.")
    widths = [int(w) for w in FLAGS.widths]
    if min(widths) < 1:
        raise app.UsageError("--widths: each must be a whole number >= 1.")
    output_dir = report.output_dir(__file__, fixed=FIXED, subdir="elm")
    rows = []
    for name in FLAGS.datasets:
        train, test = (data.load(name, split).arrays for split in ("train", "test"))
        for width in widths:
            model, variables, seconds, scale, ridge = select_and_fit(train, width)
            bp_test, bp_seconds = backprop(name, width, Path(FLAGS.workdir) / f"{name}_{width}")
            rows.append({"dataset": name, "width": width, "scale": scale, "ridge": ridge,
                         "elm_train": accuracy(model, variables, train), "elm_test": accuracy(model, variables, test),
                         "elm_seconds": seconds, "bp_test": bp_test, "bp_seconds": bp_seconds})
            logging.info("%s, L = %d: ELM %.1f%% in %.2f s; backprop %.1f%% in %.0f s", name, width,
                         100 * rows[-1]["elm_test"], seconds, 100 * bp_test, bp_seconds)
    report.write_rows(output_dir / "results.csv", [{k: f"{v:.6g}" if isinstance(v, float) else v for k, v in r.items()}
                                                   for r in rows])
    plot(rows, output_dir / "elm.png")
    table = [{"dataset": r["dataset"], "hidden units": r["width"],
              "s, ridge (chosen)": f"{r['scale']:g}, {r['ridge']:g}",
              "ELM train": f"{r['elm_train']:.1%}", "ELM test": f"{r['elm_test']:.1%}",
              "ELM fit": f"{r['elm_seconds']:.2f} s", "backprop test": f"{r['bp_test']:.1%}",
              "backprop training": f"{r['bp_seconds']:.0f} s",
              "time ratio": f"{r['bp_seconds'] / r['elm_seconds']:.0f}x"} for r in rows]
    lines = ["# Extreme learning machines against backpropagation", "",
             "Regenerate with `python experiments/elm.py --update_results`. Huang, Zhu & Siew (2006): a layer of "
             "random sigmoid units that is never trained and a readout solved by least squares. ELM: L sigmoid "
             "units with weights and biases U(-s, s), the readout by ridge least squares (the shared fit), s and "
             "the ridge chosen on the last 10% of the training digits, then fitted on all of them. Backprop: the "
             "same network (one hidden layer of L sigmoid units) trained by the one train step, Adam 3e-3 with a "
             "cosine decay, batch 128, 100 epochs (configs/one_hidden_layer.py). Times: wall-clock on 2 CPU cores, "
             "compilation included for both.", "", *report.markdown_table(table), ""]
    for name in FLAGS.datasets:
        best_elm = max((r for r in rows if r["dataset"] == name), key=lambda r: r["elm_test"])
        best_bp = max((r for r in rows if r["dataset"] == name), key=lambda r: r["bp_test"])
        lines.append(f"{name}: the best ELM {best_elm['elm_test']:.1%} (L = {best_elm['width']}, fitted in "
                     f"{best_elm['elm_seconds']:.2f} s), the best backprop network {best_bp['bp_test']:.1%} (L = "
                     f"{best_bp['width']}, {best_bp['bp_seconds']:.0f} s).")
    lines += ["", "![accuracy and training time against width](elm.png)", ""]
    (output_dir / "results.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    cli.run(main)

"""Capsule networks (Sabour, Frosst & Hinton 2017) against a CNN of their cost on the 5,000 MNIST digits, and on
pairs of those digits overlaid (the paper's MultiMNIST, Table 1 and section 6).

Four runs (configs/capsules.py): the capsule network with 3 routing iterations and with 1, the baseline CNN's
layers pooled to the capsule network's cost, all on MNIST-5k shifted by up to 2 pixels; and the capsule network on
20,000 overlapping pairs (36 x 36), which must name both digits and reconstruct each alone. The table gives test
error beside the paper's (trained on 60,000 digits / 60M pairs, so ours are higher); capsules.png shows (a) the
pairs' separate reconstructions as the paper's Figure 5 (first digit red, second green, over the input in grey)
and (b) the reconstructions as one dimension of a digit capsule is moved in [-0.25, 0.25] (its Figure 4).

    python experiments/capsules.py                           # about 2 hours on 2 CPU cores (35 minutes the pairs)
    python experiments/capsules.py --variant=small          # the capsule network and the CNN, a third of the steps

Runs are resumable (ordinary workdirs under --workdir, one per run); a run of some of them merges its rows.
"""
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
from absl import app, flags, logging

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, data, models, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo.analysis import complexity  # noqa: E402
from deepzoo.models.capsnet import Decoder  # noqa: E402
from deepzoo.plots import images  # noqa: E402
from deepzoo.train import loop, trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402

# run: (configs/capsules.py variant, what it is, the paper's test error % with 60,000 digits (Table 1, section 6))
RUNS = {
    "cnn": ("mnist5k,cnn", "baseline CNN (pooled)", 0.39),
    "routing1": ("mnist5k,capsnet_routing1", "CapsNet, 1 routing iteration", 0.29),
    "capsnet": ("mnist5k,capsnet", "CapsNet, 3 routing iterations", 0.25),
    "multimnist": ("multi_mnist5k,capsnet", "CapsNet on overlapping pairs", 5.2),
}
TWEAK = np.linspace(-0.25, 0.25, 11)     # the paper's Figure 4: steps of 0.05
DIMENSIONS = 6                           # capsule dimensions shown

FLAGS = flags.FLAGS
SMALL_RUNS = ["cnn", "capsnet"]          # --variant=small's default: the paper's comparison on single digits
flags.DEFINE_list("runs", None, f"Which runs: {', '.join(RUNS)} (default: all, or with --variant=small "
                  f"{', '.join(SMALL_RUNS)}).")
flags.DEFINE_string("workdir", "runs/capsules", "Run directories, one per run (resumable).")
flags.DEFINE_string("variant", "", "Config option appended to each run: 'small', or 'smoke' for tests.")
report.define_flags()


def pairs_figure(axes, model, variables, pairs: dict):
    """Per pair (a column): the input above, the reconstructions from the two longest capsules below (red: the
    first label's, green: the second's), titled with the labels and the predictions."""
    out = jax.jit(model.apply)(variables, pairs["input"])
    lengths, pictures = np.asarray(out["lengths"]), np.asarray(out["reconstruction"])[..., 0]   # (n, 2, H, W)
    predicted = np.argsort(-lengths, -1)[:, :2]
    for i in range(axes.shape[1]):
        image = pairs["input"][i, ..., 0]
        # the reconstructions in the order of the labels, so that red is the first digit when both are right
        order = [1, 0] if predicted[i, 0] == pairs["labels"][i, 1] else [0, 1]
        rgb = np.stack([pictures[i, order[0]], pictures[i, order[1]], np.zeros_like(image)], -1)
        axes[0, i].imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[0, i].set_title(f"L {pairs['labels'][i, 0]},{pairs['labels'][i, 1]}", fontsize=8)
        axes[1, i].imshow(np.clip(rgb, 0, 1), interpolation="nearest")
        axes[1, i].set_title(f"R {predicted[i, order[0]]},{predicted[i, order[1]]}", fontsize=8)
        for ax in axes[:, i]:
            ax.axis("off")


def tweak_figure(axes, model, variables, image: np.ndarray):
    """Rows: dimensions of the predicted class's capsule; columns: that dimension moved by TWEAK."""
    out = jax.jit(model.apply)(variables, image[None])
    v, k = np.asarray(out["capsules"][0]), int(np.argmax(out["lengths"][0]))
    tweaked = np.repeat(v[None, None], len(TWEAK), 1).repeat(DIMENSIONS, 0)     # (D, steps, classes, 16)
    for d in range(DIMENSIONS):
        tweaked[d, :, k, d] += TWEAK
    masked = tweaked * (np.arange(v.shape[0]) == k)[:, None]                   # only the predicted class's capsule
    pixels = Decoder(image.size).apply({"params": variables["params"]["decoder"]},
                                       jnp.asarray(masked.reshape(DIMENSIONS, len(TWEAK), -1)))
    images.grid(axes, np.asarray(pixels).reshape(DIMENSIONS, len(TWEAK), *image.shape[:2]),
                row_labels=[f"dim {d + 1}" for d in range(DIMENSIONS)], column_labels=[f"{t:+.2f}" for t in TWEAK])


def _config(name: str):
    return config_lib.load(f"configs/capsules.py:{RUNS[name][0]}" + (f",{FLAGS.variant}" if FLAGS.variant else ""))


def main(argv):
    del argv
    quiet_orbax_logs()
    chosen = FLAGS.runs or (SMALL_RUNS if FLAGS.variant == "small" else list(RUNS))
    unknown = set(chosen) - set(RUNS)
    if unknown:
        raise app.UsageError(f"unknown runs {sorted(unknown)}; known: {', '.join(RUNS)}.")
    output_dir, workdir = report.output_dir(__file__), Path(FLAGS.workdir)
    report.check_mergeable(output_dir, ["results.csv"], set(chosen) != set(RUNS))
    rows, trained = [], {}
    for name in chosen:
        _, what, paper = RUNS[name]
        config = _config(name)
        results = trainer.train_and_evaluate(config, workdir / name)
        model = models.get(config.model.name, **config.model.kwargs)
        variables = load_variables(workdir / name)
        trained[name] = (model, variables, config)
        params = variables["params"]
        rows.append({"run": name, "model": what, "dataset": config.dataset.name,
                     "parameters": complexity.count_params(params),
                     "without_decoder": complexity.count_params({k: v for k, v in params.items() if k != "decoder"}),
                     "steps": config.num_train_steps, "test_error": f"{100 * (1 - results['test_accuracy']):.2f}",
                     "reconstruction": f"{results['test_reconstruction']:.1f}" if "test_reconstruction" in results else "",
                     "paper_error": paper})
        logging.info("%s: test error %s%%", name, rows[-1]["test_error"])
    rows = report.merge_rows(output_dir / "results.csv", rows, key=("run",), order=list(RUNS))
    for name in ("multimnist", "capsnet"):   # the figure's two runs, this command's or any finished in the workdir
        if name not in trained and loop.finished(workdir / name):
            config = _config(name)
            trained[name] = (models.get(config.model.name, **config.model.kwargs), load_variables(workdir / name),
                             config)

    if "multimnist" in trained and "capsnet" in trained:
        fig = plt.figure(figsize=(12, 11))
        top, bottom = fig.subfigures(2, 1, height_ratios=(1, 2))
        pairs = data.load("multi_mnist5k", "test").read(np.arange(10))
        pairs_figure(top.subplots(2, 10), trained["multimnist"][0], trained["multimnist"][1], pairs)
        top.suptitle("(a) overlapping test pairs (L: labels) and each digit reconstructed from its own capsule, "
                     "red the first, green the second (R: the two longest capsules)", fontsize=10)
        digit = data.load("mnist5k", "test").read(np.arange(1))["input"][0].astype(np.float32)
        tweak_figure(bottom.subplots(DIMENSIONS, len(TWEAK)), trained["capsnet"][0], trained["capsnet"][1], digit)
        bottom.suptitle("(b) one test digit reconstructed as one dimension of its capsule moves by -0.25 .. +0.25",
                        fontsize=10)
        fig.savefig(output_dir / "capsules.png", dpi=100)
        plt.close(fig)

    lines = ["# Capsule networks vs a CNN of their cost (Sabour, Frosst & Hinton 2017)", "",
             "Test error (%) on the 1,000 MNIST-5k test digits (trained on 4,000, shifted by up to 2 pixels), and on "
             "2,000 overlapping pairs of them (trained on 20,000 pairs; an error when the two longest capsules are "
             "not both digits). The paper's figures are for the 60,000 MNIST digits and 60M MultiMNIST pairs. "
             "Reconstruction: the decoder's summed squared error per test image. Regenerate with "
             "`python experiments/capsules.py --update_results`.", "",
             *report.markdown_table([{"model": r["model"], "data": r["dataset"],
                                      "parameters": f"{int(r['parameters']):,}",
                                      "without decoder": f"{int(r['without_decoder']):,}", "steps": r["steps"],
                                      "test error %": r["test_error"], "reconstruction": r["reconstruction"],
                                      "paper error %": r["paper_error"]} for r in rows]),
             ""] + (["![capsules](capsules.png)", ""] if (output_dir / "capsules.png").exists() else [])
    (output_dir / "results.md").write_text("\n".join(lines))
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    cli.run(main)

"""Transfer learning: LeNet-5 features learned on MNIST digits 0-4, reused for digits 5-9 and for
scikit-learn's digits, against training from scratch, at small training-set sizes.

    python experiments/transfer.py            # ~100 short runs of configs/mnist5k_transfer.py, ~15 min here

Pretrains (or resumes) configs/mnist5k_transfer.py:pretrain, then trains every method (scratch,
finetune, lower_lr, frozen) on each target with --sizes training examples and --seeds seeds (each
seed draws its own class-balanced subset and initialisation); runs resume under --workdir. Writes to
--output_dir (default --workdir; --update_results: experiments/transfer/): results.csv (every run),
results.md (mean and spread of the test accuracy) and transfer.png (accuracy against training-set size).
"""
import csv
import sys
from pathlib import Path

import matplotlib
import numpy as np
from absl import flags, logging

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo.train import trainer  # noqa: E402
from deepzoo.train.checkpoint import quiet_orbax_logs  # noqa: E402

METHODS = ("scratch", "finetune", "lower_lr", "frozen")
TARGETS = {"digits59": "MNIST-5k digits 5-9 (500 test digits)", "digits28": "scikit-learn digits, 28x28 (360 test)"}

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/transfer", "Run directories (resumable).")
report.define_flags()
flags.DEFINE_list("sizes", ["10", "50", "250", "0"], "Training-set sizes (0: the whole training split).")
flags.DEFINE_integer("seeds", 3, "Seeds per setting.")
flags.DEFINE_enum("variant", "", ["", "small", "smoke"], "'small': one seed per setting unless --seeds is "
                  "given; 'smoke': a few steps per run, for tests.")


def spec(name):
    return f"configs/mnist5k_transfer.py:{name}" + (",smoke" if FLAGS.variant == "smoke" else "")


# Flags that make another experiment than the committed reference (--update_results refuses them).
FIXED = ("sizes", "seeds")


def main(argv):
    del argv
    quiet_orbax_logs()
    out, root = report.output_dir(__file__, fixed=FIXED), Path(FLAGS.workdir)
    if FLAGS.variant == "small" and not FLAGS["seeds"].present:
        FLAGS.seeds = 1
    pretrained = trainer.train_and_evaluate(config_lib.load(spec("pretrain")), root / "pretrain")
    rows = []
    for target in TARGETS:
        for size in map(int, FLAGS.sizes):
            for method in METHODS:
                for seed in range(FLAGS.seeds):
                    config = config_lib.load(spec(f"{method},{target}"), **{
                        "seed": seed, "dataset.subset_seed": seed, "dataset.train_examples": size})
                    if method != "scratch":
                        config.init_from.workdir = str(root / "pretrain")
                    results = trainer.train_and_evaluate(config, root / target / method / f"n{size}_seed{seed}")
                    rows.append({"target": target, "train_examples": size or "all", "method": method, "seed": seed,
                                 "test_accuracy": results["test_accuracy"]})
                    logging.info("%s, %s examples, %s, seed %d: %.1f%%", target, size or "all", method, seed,
                                 100 * results["test_accuracy"])

    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    def accuracies(target, size, method):
        return np.array([100 * r["test_accuracy"] for r in rows
                         if (r["target"], r["train_examples"], r["method"]) == (target, size, method)])

    sizes = [int(s) or "all" for s in FLAGS.sizes]
    spread = f"mean ± standard deviation over {FLAGS.seeds} seeds" if FLAGS.seeds > 1 else "one seed"
    lines = ["# Transfer learning: LeNet-5 pretrained on MNIST digits 0-4", "",
             f"Regenerate with `python experiments/transfer.py` (configs/mnist5k_transfer.py). The pretrained "
             f"LeNet reaches {100 * pretrained['test_accuracy']:.1f}% on the 500 test digits 0-4. Test accuracy "
             f"(%), {spread} (each its own class-balanced training "
             f"subset and initialisation); 300 steps of Adam 1e-3 at every size. finetune: every layer from the "
             f"pretrained run but the output, all trained; lower_lr: the same with c1, c3, c5 at a tenth of the "
             f"rate; frozen: c1, c3, c5 frozen.", ""]
    fig, axes = plt.subplots(1, len(TARGETS), figsize=(6 * len(TARGETS), 4.2))
    for ax, (target, title) in zip(np.atleast_1d(axes), TARGETS.items()):
        lines += [f"## {title}", "", "| training examples | " + " | ".join(METHODS) + " |",
                  "|---|" + "---|" * len(METHODS)]
        for size in sizes:
            cells = [f"{a.mean():.1f}" + (f" ± {a.std():.1f}" if len(a) > 1 else "")
                     for a in (accuracies(target, size, m) for m in METHODS)]
            lines.append(f"| {size} | " + " | ".join(cells) + " |")
        lines.append("")
        numeric = [s for s in sizes if s != "all"]
        for method in METHODS:
            means = [accuracies(target, s, method).mean() for s in numeric]
            spread = [accuracies(target, s, method).std() for s in numeric]
            ax.errorbar(numeric, means, yerr=spread, marker="o", capsize=3, label=method)
        ax.set_xscale("log")
        ax.set(xlabel="training examples", ylabel="test accuracy (%)", title=title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "transfer.png", dpi=120)
    plt.close(fig)
    lines += ["![accuracy against training-set size](transfer.png)", ""]
    (out / "results.md").write_text("\n".join(lines))
    logging.info("Wrote %s", out / "results.md")
    print("\n".join(lines))


if __name__ == "__main__":
    cli.run(main)

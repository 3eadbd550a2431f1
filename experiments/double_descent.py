"""Deep double descent on MNIST-1D: model-wise (MLP and CNN), epoch-wise and sample-wise.

Nakkiran et al. 2019 ("Deep double descent", https://arxiv.org/abs/1912.02292) find that test error
peaks where a model can just fit its training set (the interpolation threshold) and falls again beyond
it, for growing width, training time and, near the threshold, even for more data; label noise makes the
peak higher. This script runs the sweeps of configs/double_descent.py (resumable: rerun it to continue)
and turns them into figures, CSVs and a report:

    python experiments/double_descent.py                          # mlp, samples and cnn: ~25 min here
    python experiments/double_descent.py --sweeps=mlp --workdir=runs/dd --output_dir=/tmp/dd

Writes to --output_dir (default --workdir; --update_results: experiments/double_descent/):
model_wise_<sweep>.png (test and train error against width, one panel per noise level, the threshold
marked), epoch_wise.png (test error against epoch for every width: heatmap and curves), sample_wise.png,
<sweep>.csv (every trial's last evaluation), curves_<sweep>.csv (every evaluation) and results.md.
"""
import csv
import sys
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import ml_collections
import numpy as np
from absl import app, flags, logging

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo.train import sweep as sweep_lib  # noqa: E402

FLAGS = flags.FLAGS
SWEEPS = ("mlp", "samples", "cnn")
flags.DEFINE_list("sweeps", list(SWEEPS), "Variants of configs/double_descent.py to run.")
flags.DEFINE_string("workdir", "runs/double_descent", "Where the trials run (resumable).")
report.define_flags()
flags.DEFINE_enum("variant", "", ["", "small"], "'small': one seed, 2/5 of the epochs (see configs/double_descent.py).")
flags.DEFINE_string("override", "", "Test hook: a config variant to start from instead (e.g. 'smoke').")

CONFIG_FILE = Path(__file__).resolve().parents[1] / "configs" / "double_descent.py"


def get_config(variant: str):
    return config_lib.load(f"{CONFIG_FILE}:{variant}")


def number(value: str):
    try:
        return float(value) if value else np.nan
    except ValueError:  # the group id
        return value


def read_csv(path) -> list[dict]:
    with open(path) as f:
        return [{k: number(v) for k, v in r.items()} for r in csv.DictReader(f)]


def write_csv(path, rows, fields):
    with open(path, "w") as f:
        writer = csv.DictWriter(f, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: round(v, 5) if isinstance(v, float) else v for k, v in r.items()} for r in rows)


def by_width(rows, **where):
    """{width: (params, test errors over seeds, train errors over seeds)} for the rows matching `where`."""
    table = {}
    for r in rows:
        if all(r[k] == v for k, v in where.items()):
            params, tests, trains = table.setdefault(int(r["width"]), (r["params"], [], []))
            tests.append(1 - r["test_accuracy"])
            trains.append(1 - r["train_accuracy"])
    return dict(sorted(table.items()))


def threshold_width(table, n: int) -> float:
    """The width at which the parameters equal the number of training examples (log interpolation)."""
    widths = np.array(list(table), float)
    params = np.array([p for p, _, _ in table.values()], float)
    return float(np.exp(np.interp(np.log(n), np.log(params), np.log(widths))))


def peak(table, n: int) -> dict:
    """The second descent's peak: the highest mean test error at widths past the classical minimum
    (the lowest error among models with at most n/2 parameters), against that minimum and the widest."""
    widths = list(table)
    params = np.array([p for p, _, _ in table.values()])
    test = np.array([np.mean(t) for _, t, _ in table.values()])
    train = np.array([np.mean(t) for _, _, t in table.values()])
    classical = np.flatnonzero(params <= n / 2)
    i_min = int(classical[np.argmin(test[classical])]) if len(classical) else 0
    i = i_min + 1 + int(np.argmax(test[i_min + 1:])) if i_min + 1 < len(widths) else i_min
    fitted = np.flatnonzero(train < 0.01)
    return {"width": widths[i], "params": params[i], "ratio": params[i] / n, "test": test[i], "train": train[i],
            "widest": test[-1], "widest_width": widths[-1], "min": test[i_min], "min_width": widths[i_min],
            "threshold": threshold_width(table, n),
            "fits_width": widths[fitted[0]] if len(fitted) else None,
            "fits_test": test[fitted[0]] if len(fitted) else np.nan}


def plot_model_wise(rows, n, noises, title, path):
    fig, axes = plt.subplots(1, len(noises), figsize=(5.5 * len(noises), 4), squeeze=False)
    for ax, noise in zip(axes[0], noises):
        table = by_width(rows, label_noise=noise, train_size=n)
        widths = np.array(list(table))
        for k, label, color in ((1, "test", "C3"), (2, "train", "C0")):
            values = np.array([v[k] for v in table.values()]) * 100
            ax.plot(widths, values.mean(1), "o-", color=color, label=f"{label} error")
            ax.fill_between(widths, values.min(1), values.max(1), color=color, alpha=0.2)
        ax.axvline(threshold_width(table, n), color="k", ls="--", lw=1, label=f"parameters = {n:,} examples")
        ax.set_xscale("log")
        ax.set_xlabel("width")
        ax.set_ylabel("error (%)")
        ax.set_title(f"{title}, {100 * noise:g}% label noise")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_epoch_wise(curves, n, noise, path):
    """Test error against epoch for every width: a heatmap, and curves for a few widths."""
    rows = [r for r in curves if r["train_size"] == n and r["label_noise"] == noise]
    widths = sorted({int(r["width"]) for r in rows})
    epochs = sorted({int(r["epoch"]) for r in rows})
    grid = np.full((len(widths), len(epochs)), np.nan)
    for i, w in enumerate(widths):
        for j, e in enumerate(epochs):
            values = [1 - r["test_accuracy"] for r in rows if r["width"] == w and r["epoch"] == e]
            grid[i, j] = 100 * np.mean(values)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    image = left.pcolormesh(epochs, widths, grid, shading="nearest", cmap="viridis")
    left.set_yscale("log")
    left.set_xscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel("width")
    left.set_title(f"test error (%), {100 * noise:g}% label noise")
    fig.colorbar(image, ax=left)
    for w in widths[::max(1, len(widths) // 6)]:
        right.plot(epochs, grid[widths.index(w)], label=f"width {w}")
    right.set_xscale("log")
    right.set_xlabel("epoch")
    right.set_ylabel("test error (%)")
    right.set_title("epoch-wise: test error during training")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return grid, widths, epochs


def plot_sample_wise(rows, sizes, noise, path):
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, n in enumerate(sizes):
        table = by_width(rows, label_noise=noise, train_size=n)
        widths = list(table)
        ax.plot(widths, [100 * np.mean(t) for _, t, _ in table.values()], "o-", color=f"C{i}", label=f"n = {n:,}")
        ax.axvline(threshold_width(table, n), color=f"C{i}", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("width (dashed: parameters = n)")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"sample-wise, {100 * noise:g}% label noise")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def model_wise_table(rows, n, noise) -> list[str]:
    table = by_width(rows, label_noise=noise, train_size=n)
    lines = ["| width | parameters | train error | test error (mean, min-max over seeds) |", "|---|---|---|---|"]
    for w, (p, test, train) in table.items():
        lines.append(f"| {w} | {int(p):,} | {100 * np.mean(train):.1f}% | {100 * np.mean(test):.1f}% "
                     f"({100 * np.min(test):.1f}-{100 * np.max(test):.1f}) |")
    return lines


def describe_peak(rows, n, noise) -> str:
    p = peak(by_width(rows, label_noise=noise, train_size=n), n)
    where = (f"{100 * noise:g}% label noise, {n:,} examples (parameters = examples at width {p['threshold']:.0f})")
    fits = ("no width fits the training set" if p["fits_width"] is None else
            f"the narrowest width to fit the training set (train error < 1%) is {p['fits_width']}, "
            f"test error {100 * p['fits_test']:.1f}%")
    if p["test"] <= p["min"]:
        return (f"{where}: no second peak: past the classical minimum (width {p['min_width']}, "
                f"{100 * p['min']:.1f}%) the test error only falls, to {100 * p['widest']:.1f}% at width "
                f"{p['widest_width']}; {fits}.")
    return (f"{where}: the test error peaks at width {p['width']} ({int(p['params']):,} parameters, "
            f"{p['ratio']:.2f}x the examples) at {100 * p['test']:.1f}%, train error {100 * p['train']:.1f}%: "
            f"{100 * (p['test'] - p['widest']):.1f} points above the widest model (width {p['widest_width']}, "
            f"{100 * p['widest']:.1f}%) and {100 * (p['test'] - p['min']):.1f} points above the classical "
            f"minimum (width {p['min_width']}, {100 * p['min']:.1f}%); {fits}.")


def sweep_values(config) -> SimpleNamespace:
    """The sweep's values under the names this report uses."""
    axes, ds = config.sweep.axes, config.dataset
    return SimpleNamespace(width=axes.model.kwargs.width, seed=axes.seed,
                           label_noise=axes.dataset.get("label_noise", (ds.label_noise,)),
                           train_size=axes.dataset.get("train_examples", (ds.train_examples,)), epochs=(config.num_epochs,))


def run_sweep(variant: str):
    config = get_config(FLAGS.override or variant + (f",{FLAGS.variant}" if FLAGS.variant else ""))
    if FLAGS.override:  # tests: the smoke grid under the variant's sweep name and axes that matter
        base = get_config(variant)
        config.sweep.name = base.sweep.name
        if variant == "samples":
            config.sweep.axes.dataset = ml_collections.ConfigDict(dict(label_noise=(0.15,), train_examples=(200, 400)))
        if variant == "cnn":
            config.model = base.model
            config.sweep.axes.model.kwargs.width = (1, 2)
    mine = sweep_lib.run_sweep(config, FLAGS.workdir)
    # Each group's clock runs from its start (compiling included) to its last evaluation.
    minutes = sum({r["group"]: r["seconds"] for r in mine}.values()) / 60
    root = Path(FLAGS.workdir) / config.sweep.name
    size = lambda r: r.get("train_examples", config.dataset.train_examples)
    rows, curves = ([{**r, "train_size": size(r), "epochs": config.num_epochs} for r in read_csv(root / name)]
                    for name in ("results.csv", "curves.csv"))
    return config, rows, curves, minutes


def main(argv):
    del argv
    out = report.output_dir(__file__)
    head = ["# Deep double descent on MNIST-1D", "",
            "Regenerate with `python experiments/double_descent.py --update_results` (configs/double_descent.py; each group of "
              "trials keeps its config, status and metrics under the workdir). Error is 1 - accuracy; train error is on the "
              "trial's own training set with its noisy labels. The classical minimum is the lowest test error "
              "among models with at most half as many parameters as training examples; the peak is the highest "
              "error at a width past it.", ""]
    fields = ["width", "label_noise", "seed", "train_size", "epochs", "params", "train_accuracy", "test_accuracy",
              "train_loss", "test_loss", "seconds"]
    unknown = [v for v in FLAGS.sweeps if v not in SWEEPS]
    if unknown:
        raise app.UsageError(f"--sweeps: unknown sweep {unknown[0]!r}; known: {', '.join(SWEEPS)}.")
    sections = {}  # of results.md, one per sweep: a sweep not run now keeps its section from before
    for variant in [v for v in SWEEPS if v in FLAGS.sweeps]:
        config, rows, curves, minutes = run_sweep(variant)
        s = sweep_values(config)
        write_csv(out / f"{variant}.csv", rows, fields)
        if variant != "samples":  # its trials' curves are the mlp sweep's, and more
            write_csv(out / f"curves_{variant}.csv", curves,
                      ["width", "label_noise", "seed", "train_size", "epoch", "train_accuracy", "test_accuracy"])
        n = max(s.train_size)
        opt = config.optimizer
        setup = (f"{config.model.name}, widths {', '.join(map(str, s.width))}; seeds {', '.join(map(str, s.seed))}; "
                 f"{', '.join(f'{n:,}' for n in s.train_size)} training examples; {max(s.epochs)} epochs of "
                 f"{opt.name} (momentum {opt.get('momentum', 0)}), learning rate {opt.learning_rate} "
                 f"{opt.schedule}, batch {config.batch_size}. Training took {minutes:.1f} min here (2 CPU cores; the sum of the "
                 f"groups' clocks, from their first epoch to their last evaluation).")
        doc = sections[variant] = []
        if variant in ("mlp", "cnn"):
            title = "MLP 40-h-h-10" if variant == "mlp" else "five-layer CNN, channels k-2k-4k-8k"
            noises = sorted(s.label_noise)
            plot_model_wise(rows, n, noises, title, out / f"model_wise_{variant}.png")
            doc += [f"## Model-wise: {title}", "", setup, "", f"![model-wise](model_wise_{variant}.png)", ""]
            for noise in noises:
                doc += [describe_peak(rows, n, noise), ""] + model_wise_table(rows, n, noise) + [""]
        if variant == "mlp":
            noise = max(s.label_noise)
            grid, widths, epochs = plot_epoch_wise(curves, n, noise, out / "epoch_wise.png")
            late, second = [], []
            smooth_epochs = epochs[2:-2]
            for i, w in enumerate(widths):
                curve = np.convolve(grid[i], np.ones(5) / 5, mode="valid")  # a running mean over 5 evaluations
                low = int(np.argmin(curve))
                if curve[-1] - curve[low] >= 2:   # the classical U: it fell, then rose with training
                    late.append(f"width {w}: {curve[low]:.1f}% at epoch {smooth_epochs[low]}, "
                                f"{curve[-1]:.1f}% at the end")
                first_low = next((j for j in range(len(curve) - 1)
                                  if curve[j] <= curve[j + 1] and (j == 0 or curve[j] <= curve[j - 1])), None)
                if first_low is not None:
                    top = first_low + int(np.argmax(curve[first_low:]))
                    if curve[top] - curve[first_low] >= 1 and curve[top] - curve[top:].min() >= 1:
                        second.append(f"width {w}: {curve[first_low]:.1f}% at epoch {smooth_epochs[first_low]}, "
                                      f"up to {curve[top]:.1f}% at epoch {smooth_epochs[top]}, down to "
                                      f"{curve[top:].min():.1f}%")
            doc += ["## Epoch-wise", "", f"Test error during training of the same runs ({100 * noise:g}% noise, mean over seeds, smoothed "
                       "over 5 evaluations): "
                       "widths where the error fell to a minimum and rose by 2 points or more afterwards (the classical "
                       "overfitting U): " + ("; ".join(late) if late else "none") + ". Widths where it fell, rose by 1 "
                       "point or more and fell again by 1 point or more (epoch-wise double descent): "
                       + ("; ".join(second) if second else "none") + ".", "", "![epoch-wise](epoch_wise.png)", ""]
        if variant == "samples":
            sizes = sorted(s.train_size)
            noise = max(s.label_noise)
            plot_sample_wise(rows, sizes, noise, out / "sample_wise.png")
            doc += ["## Sample-wise", "", setup, "", "![sample-wise](sample_wise.png)", ""]
            tables = {m: by_width(rows, label_noise=noise, train_size=m) for m in sizes}
            hurt = [f"width {w}: {100 * np.mean(tables[a][w][1]):.1f}% with {a:,} examples, "
                    f"{100 * np.mean(tables[b][w][1]):.1f}% with {b:,}"
                    for a, b in zip(sizes, sizes[1:]) for w in tables[b]
                    if w in tables[a] and np.mean(tables[b][w][1]) > np.mean(tables[a][w][1])]
            doc += [describe_peak(rows, m, noise) for m in sizes] + [""]
            doc += ["More data hurt (test error higher with more examples) at: " +
                       ("; ".join(hurt) if hurt else "no width") + ".", ""]
    papers = ["## The papers", "",
               "- Nakkiran et al. 2019: with 15% label noise a ResNet-18's CIFAR-10 test error peaks near width "
               "k = 10-12, where it first reaches ~0 train error; with 0% noise the peak is much smaller; "
               "epoch-wise double descent appears for mid and large widths; more data moves the peak right "
               "and can raise the error near it.",
               "- Greydanus 2020 (MNIST-1D): MLP with 15% noise, 4,000 examples: test-error peak near h = 47."]
    print(report.merge_sections(out / "results.md", sections, order=SWEEPS, head=head, tail=papers))
    logging.info("Wrote %s", out / "results.md")


if __name__ == "__main__":
    cli.run(main)

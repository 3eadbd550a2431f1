"""The neural Turing machine against an LSTM on the copy task: trained on sequences of 1 to 20 vectors, tested
on 10 to 120 (Graves, Wayne & Danihelka 2014, section 4.1, Figures 3-6).

The paper's finding: the NTM learns the copy much faster than the LSTM and, having learned an algorithm
(write each vector at the next location, then read them back in order), copies sequences six times longer
than any it was trained on almost perfectly; the LSTM degrades quickly past length 20. Here the registry's
`ntm_copy` (LSTM controller of 100 units, 128 x 20 memory) and `lstm_copy` (an LSTM of the same number of
parameters) are trained by the library's one train step (configs/memory_tasks.py) on the generated task
(deepzoo/data/algorithmic.py), then tested on 100 sequences of each length (10, 20, 30, 50, 120): cost in bits
per sequence, wrong bits per sequence and the fraction of sequences copied without a wrong bit.

    python experiments/ntm.py                     # both models, 4,000 steps of 32 sequences each
    python experiments/ntm.py --variant=small     # 1,000 steps each

Runs are resumable (ordinary workdirs under --workdir). Writes results.md/.csv, copy.png (the learning curves
and the copies at each length, as Figures 3-4) and heads.png (the NTM's write and read weightings over one
copy, as Figure 6) beside the runs in --workdir (--update_results: into experiments/ntm/).
"""
import sys
from pathlib import Path

import jax
import matplotlib
import numpy as np
from absl import app, flags, logging

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo import data, models, tasks  # noqa: E402
from deepzoo.analysis import complexity  # noqa: E402
from deepzoo.data.algorithmic import TEST_LENGTHS  # noqa: E402
from deepzoo.tasks import metrics as metrics_lib  # noqa: E402
from deepzoo.train import loop, trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402
from deepzoo.train.writers import read_metrics  # noqa: E402

MODELS = ("ntm", "lstm")
HEADS_LENGTH = 30          # the copy whose weightings heads.png shows (longer than any seen in training)

FLAGS = flags.FLAGS
flags.DEFINE_list("models", list(MODELS), "Which models to train and test: ntm, lstm.")
flags.DEFINE_string("workdir", "runs/ntm", "Run directories, one per model (resumable).")
flags.DEFINE_string("variant", "", "Config option appended to each model: 'small', or 'smoke' for tests.")
report.define_flags()


def test_lengths(model, variables) -> tuple[dict, dict]:
    """({length: {loss, bit_errors, sequence_accuracy}}, {length: (targets, sigmoid outputs) of the first
    sequence's copy, (L, 8) each}) on the length_<L> splits."""
    task = tasks.get("bit_sequence")
    evaluate = jax.jit(lambda v, batch: task.evaluate(model, v["params"], {}, batch))
    scores, copies = {}, {}
    for length in TEST_LENGTHS:
        source = data.load("copy", f"length_{length}")
        total = None
        for batch in data.eval_batches(source, global_batch_size=len(source), process_index=0, process_count=1):
            m = evaluate(variables, batch)
            total = m if total is None else metrics_lib.add(total, m)
        scores[length] = metrics_lib.means(jax.device_get(total))
        first = source.read(np.arange(1))
        logits = np.asarray(jax.jit(model.apply)(variables, first["input"]))[0]
        copy = slice(length + 1, 2 * length + 1)
        copies[length] = (first["target"][0, copy], 1 / (1 + np.exp(-logits[copy])))
    return scores, copies


def _config(name: str):
    return config_lib.load(f"configs/memory_tasks.py:copy,{name}" + (f",{FLAGS.variant}" if FLAGS.variant else ""))


def _curve(run: Path) -> list[tuple[int, float]]:
    """(step, validation cost) of a run."""
    return [(r["step"], r["loss"]) for r in read_metrics(run) if r.get("split") == "validation"]


def plot_copy(curves: dict, copies: dict, batch_size: int, path: Path):
    """Left: validation cost against sequences seen, per model. Right: for each model, the targets above its
    outputs for one sequence of each test length side by side (time left to right, bits top to bottom)."""
    fig = plt.figure(figsize=(12, 1.2 + 1.6 * len(copies)))
    grid = fig.add_gridspec(2 * len(copies), 2, width_ratios=(1, 3.2))
    ax = fig.add_subplot(grid[:, 0])
    for i, (name, points) in enumerate(curves.items()):
        ax.plot([s * batch_size / 1000 for s, _ in points], [c for _, c in points], "o-", color=f"C{i}",
                markersize=3, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("sequences seen (thousands)")
    ax.set_ylabel("validation cost (bits per sequence)")
    ax.set_title("Learning the copy (lengths 1-20)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    gap = np.full((8, 3), np.nan)
    for row, (name, by_length) in enumerate(copies.items()):
        for k, (label, index) in enumerate((("targets", 0), ("outputs", 1))):
            strip = np.concatenate([np.c_[by_length[n][index].T, gap] for n in TEST_LENGTHS], axis=1)
            a = fig.add_subplot(grid[2 * row + k, 1])
            a.imshow(strip, aspect="auto", cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            a.set_yticks([])
            a.set_ylabel(f"{name}\n{label}", fontsize=8)
            starts = np.cumsum([0] + [n + 3 for n in TEST_LENGTHS[:-1]])
            a.set_xticks(starts + np.array(TEST_LENGTHS) / 2, [f"length {n}" for n in TEST_LENGTHS] if
                         (row, k) == (len(copies) - 1, 1) else [""] * len(TEST_LENGTHS), fontsize=8)
            a.tick_params(length=0)
    fig.suptitle("Neural Turing machine vs LSTM on the copy task (Graves et al. 2014, Figures 3-4)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_heads(model, variables, path: Path):
    """The NTM on one copy of HEADS_LENGTH vectors: its inputs and outputs, and where its write and read heads
    look at each step (location against time): the paper's Figure 6."""
    x = data.load("copy", f"length_{HEADS_LENGTH}").read(np.arange(1))["input"]
    logits, w_read, w_write = (np.asarray(a)[0] for a in jax.jit(
        lambda v, x: model.apply(v, x, method="trace"))(variables, x))
    used = np.flatnonzero((w_write.max(0) > 0.01) | (w_read.max(0) > 0.01))   # the locations the heads visit
    rows = slice(max(used.min() - 3, 0), used.max() + 4) if used.size else slice(0, w_write.shape[-1])
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True, height_ratios=(1, 2.5))
    panels = ((x[0].T, "inputs (8 bits + delimiter)", "bit"), (1 / (1 + np.exp(-logits.T)), "outputs", "bit"),
              (w_write.T[rows], "write weightings", "memory location"),
              (w_read.T[rows], "read weightings", "memory location"))
    for ax, (image, title, ylabel) in zip(axes.flat, panels):
        extent = None
        if ylabel == "memory location":
            extent = (-0.5, image.shape[1] - 0.5, rows.start + image.shape[0] - 0.5, rows.start - 0.5)
        ax.imshow(image, aspect="auto", cmap="gray_r", vmin=0, vmax=1, interpolation="nearest", extent=extent)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=9)
    for ax in axes[1]:
        ax.set_xlabel("time step")
    fig.suptitle(f"The NTM's heads copying {HEADS_LENGTH} vectors (Graves et al. 2014, Figure 6)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv):
    del argv
    quiet_orbax_logs()
    unknown = set(FLAGS.models) - set(MODELS)
    if unknown:
        raise app.UsageError(f"unknown models {sorted(unknown)}; known: {', '.join(MODELS)}.")
    output_dir, workdir = report.output_dir(__file__), Path(FLAGS.workdir)
    report.check_mergeable(output_dir, ["results.csv"], set(FLAGS.models) != set(MODELS))
    rows, curves, copies, batch_size = [], {}, {}, 0
    for name in FLAGS.models:
        run, config = workdir / name, _config(name)
        results = trainer.train_and_evaluate(config, run)
        model = models.get(config.model.name, **config.model.kwargs)
        variables = load_variables(run)
        scores, copies[name] = test_lengths(model, variables)
        curves[name] = _curve(run)
        batch_size = config.batch_size
        row = {"model": name, "params": complexity.count_params(variables["params"]),
               "steps": config.num_train_steps, "sequences": config.num_train_steps * config.batch_size,
               "validation_cost": f"{results['validation_loss']:.3f}"}
        for length, s in scores.items():
            row.update({f"cost_{length}": f"{s['loss']:.2f}", f"bit_errors_{length}": f"{s['bit_errors']:.2f}",
                        f"exact_{length}": f"{s['sequence_accuracy']:.2f}"})
        rows.append(row)
        logging.info("%s: %s", name, " | ".join(f"length {n}: {s['bit_errors']:.2f} wrong bits, "
                                                 f"{s['sequence_accuracy']:.0%} exact" for n, s in scores.items()))
        if name == "ntm":
            plot_heads(model, variables, output_dir / "heads.png")
    for name in MODELS:   # the figures show every finished run of the workdir, those this command left out too
        run = workdir / name
        if name not in curves and loop.finished(run):
            config = _config(name)
            model, variables = models.get(config.model.name, **config.model.kwargs), load_variables(run)
            copies[name], curves[name], batch_size = test_lengths(model, variables)[1], _curve(run), config.batch_size
            if name == "ntm":
                plot_heads(model, variables, output_dir / "heads.png")
    rows = report.merge_rows(output_dir / "results.csv", rows, key=("model",), order=list(MODELS))
    shown = [name for name in MODELS if name in curves]
    plot_copy({n: curves[n] for n in shown}, {n: copies[n] for n in shown}, batch_size, output_dir / "copy.png")

    lines = ["# Neural Turing machine vs LSTM: the copy task", "",
             "Trained on sequences of 1 to 20 random 8-bit vectors (configs/memory_tasks.py: Adam 1e-3 with a cosine decay, "
             "batches of 32, gradients clipped to norm 50), tested on 100 sequences of each length. Cost: bits per sequence "
             "(cross-entropy of the copy); wrong bits per sequence after thresholding at 1/2; exact: the fraction "
             "of sequences copied without a wrong bit. Regenerate with `python experiments/ntm.py "
             "--update_results`.", "",
             "| model | parameters | sequences seen | validation cost (1-20) | "
             + " | ".join(f"length {n}: wrong bits / exact" for n in TEST_LENGTHS) + " |",
             "|---|---|---|---|" + "---|" * len(TEST_LENGTHS)]
    lines += [f"| {r['model']} | {int(r['params']):,} | {int(r['sequences']):,} | "
              f"{r['validation_cost']} | " + " | ".join(f"{r[f'bit_errors_{n}']} / {r[f'exact_{n}']}"
                                                         for n in TEST_LENGTHS) + " |" for r in rows]
    lines += ["", "Published (Graves et al. 2014, Figures 3-4, no table): the NTM's copies stay nearly perfect up to "
              "length 120 after training on lengths up to 20; the LSTM's fall apart past length 20. Their LSTM had "
              "3 layers of 256 units (1.35M parameters) and far more updates; the one here has the NTM's size and "
              "updates. The heads (heads.png) do what the paper's do: the write head steps through the memory one "
              "location per vector, and at the delimiter the read head jumps by content to the first vector written "
              "and follows the same path.", "",
              "![copy](copy.png)", "", "![heads](heads.png)", ""]
    (output_dir / "results.md").write_text("\n".join(lines))
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    cli.run(main)

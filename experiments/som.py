"""Kohonen's self-organising map on scikit-learn's 8x8 digits: the errors as it trains, its codebook, its U-matrix.

Kohonen (1982) showed that units on a grid, each moving its weight vector towards the inputs it wins and
dragging its grid neighbours along, end up ordered: neighbours on the grid hold similar vectors. Here a
10 x 10 map is trained by the one run loop from configs/som.py (the SOM task: Kohonen's update as the SGD
step on the neighbourhood-weighted quantisation error; the radius shrinking from 5 to 0.5, the learning
rate from 0.5 to 0). The labels play no part in training; afterwards each unit is named by the majority
label of the training digits it wins, and a test digit is "classified" by its unit's name.

A small second part redraws Kohonen's own demonstration (1982, the figures of a map on a uniform square): an
8 x 8 map on points drawn uniformly from the unit square, shown as its lattice (each unit at its weight
vector, grid neighbours joined) as it unfolds; trained by the same task and train step.

    python experiments/som.py                 # about 40 s on 2 CPU cores
    python experiments/som.py --variant=small # 1,000 steps instead of 4,000

Trains (or resumes) the run in --workdir (default runs/som) and writes som.png, results.md and results.csv
to --output_dir (default the workdir; --update_results: experiments/som/).
"""
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from absl import flags, logging

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, data, models, report, tasks  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo.tasks.som import best_units  # noqa: E402
from deepzoo.train import trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402
from deepzoo.train.state import create_train_state  # noqa: E402
from deepzoo.train.step import make_train_step  # noqa: E402
from deepzoo.train.writers import read_metrics  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/som", "The run's directory (resumable).")
flags.DEFINE_string("variant", "", "Config option appended to configs/som.py, e.g. 'small'.")
report.define_flags()

SQUARE_STEPS = (0, 300, 2000, 10_000)   # the lattice on the uniform square is drawn at these steps


def unit_labels(bmu, labels, units: int, classes: int = 10):
    """The majority label of the digits each unit wins (-1 for a unit that wins none), and the counts."""
    counts = np.zeros((units, classes), int)
    np.add.at(counts, (bmu, labels), 1)
    return np.where(counts.sum(1) > 0, counts.argmax(1), -1), counts


def u_matrix(codebook):
    """(rows, cols, d) -> (rows, cols): each unit's mean distance to the vectors of its 4 grid neighbours."""
    rows, cols, _ = codebook.shape
    u = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            near = [codebook[a, b] for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1))
                    if 0 <= a < rows and 0 <= b < cols]
            u[i, j] = np.mean([np.linalg.norm(codebook[i, j] - n) for n in near])
    return u


def best_of(model, variables, x, batch: int = 500):
    """The best-matching unit (flat index) of every row of x."""
    out = [np.asarray(best_units(model.apply(variables, x[i:i + batch]))[0]) for i in range(0, len(x), batch)]
    return np.concatenate(out)


def square_map(steps=SQUARE_STEPS, size: int = 8, seed: int = 0):
    """Kohonen's demonstration: a size x size map on the uniform unit square, one point per step (batch 1),
    the radius shrinking exponentially from 3 to 0.5 and the learning rate linearly from 0.5 to 0.02.
    Returns {step: codebook (size, size, 2)}."""
    total = steps[-1]
    model = models.get("som", rows=size, cols=size, init_scale=1.0)
    task = tasks.get("som", sigma0=3.0, sigma_end=0.5, num_steps=total)
    tx = optax.sgd(optax.linear_schedule(0.5, 0.02, total))
    # Start as Kohonen did, from small random weights in the middle of the square: a crumpled lattice.
    state = create_train_state(model, tx, jnp.zeros((1, 2)), seed=seed)
    state = state.replace(params={"codebook": 0.45 + 0.1 * state.params["codebook"]})
    step = make_train_step(model, task, tx, seed=seed)
    xs = jax.random.uniform(jax.random.key(seed), (total, 1, 2))
    run = jax.jit(lambda s, x: jax.lax.scan(lambda s, x: (step(s, {"input": x})[0], None), s, x)[0])
    out, done = {0: np.asarray(state.params["codebook"])}, 0
    for at in steps[1:]:
        state = run(state, xs[done:at])
        out[at], done = np.asarray(state.params["codebook"]), at
    return out


def main(argv):
    del argv
    quiet_orbax_logs()
    start = time.perf_counter()
    out = report.output_dir(__file__)
    config = config_lib.load("configs/som.py" + (f":{FLAGS.variant}" if FLAGS.variant else ""))
    workdir = Path(FLAGS.workdir)
    results = trainer.train_and_evaluate(config, workdir)
    model = models.get(config.model.name, **config.model.kwargs)
    task = tasks.get(config.task.name, **config.task.kwargs)
    variables = load_variables(workdir)
    rows_, cols_ = config.model.kwargs.rows, config.model.kwargs.cols

    train, test = data.load("digits", "train"), data.load("digits", "test")
    x_train, y_train = train.arrays["input"].reshape(len(train), -1), train.arrays["label"]
    x_test, y_test = test.arrays["input"].reshape(len(test), -1), test.arrays["label"]

    # The map before training (the run's own initialisation), then the run's records.
    tx = optax.sgd(config.optimizer.learning_rate)
    init = create_train_state(model, tx, jnp.asarray(x_train[:1]), seed=config.seed)
    m0 = task.evaluate(model, init.params, {}, {"input": x_test, "mask": np.ones(len(x_test))})
    start_test = {k: float(s / c) for k, (s, c) in m0.items()}
    records = read_metrics(workdir)
    train_rec = [r for r in records if r["split"] == "train"]
    test_rec = [{"step": 0, **start_test}] + [r for r in records if r["split"] == config.dataset.eval_split]

    names, counts = unit_labels(best_of(model, variables, x_train), y_train, rows_ * cols_)
    test_bmu = best_of(model, variables, x_test)
    map_accuracy = float(np.mean(names[test_bmu] == y_test))
    empty = int(np.sum(names < 0))
    codebook = np.asarray(variables["params"]["codebook"])
    umat = u_matrix(codebook)
    square = square_map()

    # The table: the errors at a few steps of the run.
    wanted = sorted({0, *[s for s in (200, 400, 1000, 2000) if s < config.num_train_steps], config.num_train_steps})
    by_step = {r["step"]: r for r in train_rec}
    table = []
    for s in wanted:
        t = next((r for r in test_rec if r["step"] == s), None)
        tr = by_step.get(s, {})
        table.append({"step": s, "radius sigma": f"{tr['sigma']:.2f}" if tr else f"{config.task.kwargs.sigma0:.2f}",
                      "learning rate": f"{tr['learning_rate']:.3f}" if tr else f"{config.optimizer.learning_rate:.3f}",
                      "test quantisation error": f"{t['quantisation_error']:.3f}" if t else "",
                      "test topographic error": f"{t['topographic_error']:.3f}" if t else ""})
    report.write_rows(out / "results.csv", table)
    seconds = time.perf_counter() - start
    final = test_rec[-1]
    lowest_te = min(test_rec, key=lambda r: r["topographic_error"])
    lines = ["# Kohonen's self-organising map on the 8x8 digits", "",
             f"A {rows_} x {cols_} map trained by the one run loop from `configs/som.py"
             f"{':' + FLAGS.variant if FLAGS.variant else ''}`: {config.num_train_steps:,} SGD steps on batches of "
             f"{config.batch_size} of the 1,437 training digits (the update is Kohonen's, averaged over the batch), "
             f"Gaussian neighbourhood on the grid with radius shrinking exponentially from "
             f"{config.task.kwargs.sigma0:g} to {config.task.kwargs.sigma_end:g}, learning rate falling linearly "
             f"from {config.optimizer.learning_rate:g} to 0. Errors on the 360 test digits: quantisation error = "
             f"mean distance from a digit (64 values in [0, 1]) to its best-matching unit; topographic error = "
             f"fraction of digits whose two best units are not grid neighbours.", "",
             *report.markdown_table(table), "",
             f"The quantisation error fell from {test_rec[0]['quantisation_error']:.3f} (the random map) to "
             f"{final['quantisation_error']:.3f}. The topographic error fell from "
             f"{test_rec[0]['topographic_error']:.3f} to {lowest_te['topographic_error']:.3f} at step "
             f"{lowest_te['step']} while the radius was wide (the ordering phase) and ended at "
             f"{final['topographic_error']:.3f}: as the radius shrinks to {config.task.kwargs.sigma_end:g} the units "
             f"tune to their own digits and neighbours pull each other less, the usual trade of the two errors.", "",
             f"Labelled afterwards by the majority label of the training digits each wins ({empty} of the "
             f"{rows_ * cols_} units {'wins' if empty == 1 else 'win'} none), the map classifies {map_accuracy:.1%} of the test digits. "
             f"som.png: the error curves, the codebook (each unit's weight vector as an 8x8 image), the U-matrix "
             f"(mean distance to the grid neighbours; dark = close: the clusters, light = borders) with each unit's "
             f"label, and Kohonen's own demonstration, a map of the uniform square unfolding (Kohonen 1982 draws "
             f"the same lattices).", "",
             "![error curves, codebook, U-matrix with labels, and the map of the uniform square](som.png)", "",
             f"Run time {seconds:.0f} s on 2 CPU cores (train {results.get('seconds', float('nan')):.0f} s)."
             if "seconds" in results else f"Run time {seconds:.0f} s on 2 CPU cores.", ""]
    (out / "results.md").write_text("\n".join(lines))
    _plot(out / "som.png", train_rec, test_rec, codebook, umat, names, square, map_accuracy, config)
    logging.info("test quantisation error %.3f, topographic error %.3f, map accuracy %.3f; wrote %s in %.0f s",
                 final["quantisation_error"], final["topographic_error"], map_accuracy, out, seconds)


def _plot(path, train_rec, test_rec, codebook, umat, names, square, map_accuracy, config):
    rows, cols, _ = codebook.shape
    fig = plt.figure(figsize=(17, 10), layout="constrained")
    grid = fig.add_gridspec(2, 4, height_ratios=[1.3, 1], width_ratios=[1, 1, 1.25, 1.25])

    ax = fig.add_subplot(grid[0, 0])
    for key, color, label in (("quantisation_error", "tab:blue", "quantisation error"),):
        ax.plot([r["step"] for r in test_rec], [r[key] for r in test_rec], "o-", ms=3, color=color, label=f"{label} (test)")
        ax.plot([r["step"] for r in train_rec], [r[key] for r in train_rec], color=color, alpha=0.4, lw=1,
                label=f"{label} (training batches)")
    ax.set_ylim(0, None)
    ax.set_xlabel("step")
    ax.set_ylabel("mean distance to the best unit")
    ax.set_title("quantisation error")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")

    ax = fig.add_subplot(grid[0, 1])
    ax.plot([r["step"] for r in test_rec], [r["topographic_error"] for r in test_rec], "o-", ms=3, color="tab:red",
            label="topographic error (test)")
    ax.set_ylim(0, 1)
    ax.set_xlabel("step")
    ax.set_ylabel("fraction of digits")
    ax.set_title("topographic error, and the radius")
    ax.grid(True, alpha=0.3)
    twin = ax.twinx()
    twin.plot([r["step"] for r in train_rec], [r["sigma"] for r in train_rec], "--", color="0.4", lw=1.2,
              label="radius sigma (right axis)")
    twin.set_ylim(0, config.task.kwargs.sigma0 * 1.05)
    twin.set_ylabel("radius sigma (grid units)")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper right")

    ax = fig.add_subplot(grid[0, 2])
    pictures = codebook.reshape(rows, cols, 8, 8).transpose(0, 2, 1, 3).reshape(rows * 8, cols * 8)
    ax.imshow(pictures, cmap="gray_r", vmin=0, vmax=1)
    for k in range(1, rows):
        ax.axhline(k * 8 - 0.5, color="tab:orange", lw=0.5)
    for k in range(1, cols):
        ax.axvline(k * 8 - 0.5, color="tab:orange", lw=0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("codebook (each unit's weights, 8x8)")

    ax = fig.add_subplot(grid[0, 3])
    im = ax.imshow(umat, cmap="viridis")
    for i in range(rows):
        for j in range(cols):
            label = names[i * cols + j]
            ax.text(j, i, "" if label < 0 else str(label), ha="center", va="center", fontsize=10,
                    color="white" if umat[i, j] < np.median(umat) else "black", weight="bold")
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_title(f"U-matrix, units' majority labels\n({map_accuracy:.0%} of test digits labelled right)")
    fig.colorbar(im, ax=ax, shrink=0.8, label="mean distance to grid neighbours")

    for k, (at, cb) in enumerate(square.items()):
        ax = fig.add_subplot(grid[1, k])
        for line in list(cb) + list(cb.transpose(1, 0, 2)):     # rows, then columns, of the lattice
            ax.plot(line[:, 0], line[:, 1], "-", color="tab:blue", lw=1)
        ax.plot(cb[..., 0].ravel(), cb[..., 1].ravel(), "o", color="tab:blue", ms=3)
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.set_aspect("equal")
        ax.set_title(f"8x8 map on the uniform square, step {at:,}", fontsize=10)
    fig.suptitle(f"Self-organising map, {rows}x{cols} units, on scikit-learn's 8x8 digits "
                 f"({config.num_train_steps:,} steps); below: Kohonen's demonstration on the uniform square",
                 fontsize=13)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    cli.run(main)

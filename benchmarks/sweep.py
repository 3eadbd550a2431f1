"""A sweep's trials trained together (vmapped, widths padded) against the same trials one after another.

    .venv/bin/python benchmarks/sweep.py [--epochs=20]   # writes benchmarks/results/sweep.json

The trials are the MNIST-1D MLP double-descent grid of configs/double_descent.py with every other
width (8 widths from 2 to 300), 0% and 15% label noise and 3 seeds: 48 trials of --epochs epochs.
"Together" is the sweep as configured (widths up to 1.5x apart padded into one program). "One after
another" is the same runner given one trial at a time, so that each trial is compiled and trained on
its own, as a loop over configs would. Both are timed end to end (compiling, evaluating every 10
epochs, checkpointing), and per epoch once compiled (from the trials' own clocks between their first
and last evaluation), which says how the ratio carries over to the 1,000-epoch sweep.
"""
import csv
import os
import sys
import tempfile
import time

from absl import app, flags, logging

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import write  # noqa: E402

from configs import double_descent  # noqa: E402
from deepzoo.train import sweep as sweep_lib  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 20, "Epochs per trial.")


def sweep_config(**axes):
    config = double_descent.get_config("mlp")
    config.sweep.update(width=config.sweep.width[::2], epochs=(FLAGS.epochs,), checkpoint_every_epochs=FLAGS.epochs)
    config.sweep.update(axes)
    return config


def seconds_per_epoch(root) -> float:
    """Sum over programs of (clock at the last evaluation - clock at the first) / epochs between them."""
    with open(os.path.join(root, "curves.csv")) as f:
        curves = list(csv.DictReader(f))
    programs = {}
    for r in curves:  # trials trained together share one clock: one entry per (program, epoch)
        key = (r["train_size"], r["epochs"], r["width"], r["label_noise"], r["seed"])
        programs.setdefault(key, []).append((int(r["epoch"]), float(r["seconds"])))
    per_program = {}
    for points in programs.values():
        (e0, s0), (e1, s1) = min(points), max(points)
        per_program[round(s1, 2), round(s0, 2)] = (s1 - s0) / (e1 - e0)  # same clock: same program
    return sum(per_program.values())


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    config = sweep_config()
    trials = sweep_lib.trials(config.sweep)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        together = sweep_lib.run_sweep(config, f"{tmp}/together")
        together_seconds = time.perf_counter() - start
        together_epoch = seconds_per_epoch(f"{tmp}/together/{config.sweep.name}")
        start, alone = time.perf_counter(), []
        for t in trials:
            one = sweep_config(width=(t.width,), label_noise=(t.label_noise,), seed=(t.seed,), pad_widths=False)
            alone += sweep_lib.run_sweep(one, f"{tmp}/alone")
        alone_seconds = time.perf_counter() - start
        alone_epoch = seconds_per_epoch(f"{tmp}/alone/{config.sweep.name}")
    key = lambda r: (r["width"], r["label_noise"], r["seed"])
    difference = max(abs(a["test_loss"] - b["test_loss"]) for a, b in zip(sorted(together, key=key),
                                                                          sorted(alone, key=key)))
    write("sweep", {
        "trials": len(trials), "widths": list(config.sweep.width), "epochs": FLAGS.epochs,
        "together_seconds": round(together_seconds, 1), "one_after_another_seconds": round(alone_seconds, 1),
        "speedup_end_to_end": round(alone_seconds / together_seconds, 2),
        "together_seconds_per_epoch_of_all_trials": round(together_epoch, 3),
        "one_after_another_seconds_per_epoch_of_all_trials": round(alone_epoch, 3),
        "speedup_once_compiled": round(alone_epoch / together_epoch, 2),
        "max_test_loss_difference_together_vs_alone": difference,
    })


if __name__ == "__main__":
    app.run(main)

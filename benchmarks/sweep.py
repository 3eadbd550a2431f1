"""A learning-rate sweep of 16 trials vmapped in one program against the same 16 runs one after another.

    .venv/bin/python benchmarks/sweep.py [--epochs=20] [--trials=16]   # writes benchmarks/results/sweep.json

The trials are the MNIST-1D MLP of configs/double_descent.py (width 100, 4,000 examples, batch 100, SGD
with momentum and a cosine schedule) at --trials learning rates from 1e-3 to 0.3. "Together" is the
sweep (deepzoo/train/sweep.py): one program whose optimizer states hold the learning rates. "One after
another" is each trial's config (sweep.trial_config) run alone by train_and_evaluate, as a loop over
configs would. Both are timed end to end (compiling, evaluating every 5 epochs, checkpointing) and per
epoch once compiled (from the runs' own clocks between their first and last evaluation).
"""
import json
import os
import sys
import tempfile
import time

import numpy as np
from absl import app, flags, logging

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import write  # noqa: E402

from configs import double_descent  # noqa: E402
from deepzoo.train import sweep as sweep_lib  # noqa: E402
from deepzoo.train import trainer  # noqa: E402
from deepzoo.train.checkpoint import quiet_orbax_logs  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 20, "Epochs per trial.")
flags.DEFINE_integer("trials", 16, "Learning rates swept.")


def sweep_config():
    config = double_descent.get_config("mlp")
    config.sweep.name = "learning_rate"
    config.sweep.axes.model.kwargs.width = (100,)
    config.sweep.axes.dataset.label_noise = (0.0,)
    config.sweep.axes.seed = (0,)
    config.sweep.axes.optimizer = {"learning_rate": tuple(float(f"{x:.3g}") for x in
                                                          np.geomspace(1e-3, 0.3, FLAGS.trials))}
    config.update(num_epochs=FLAGS.epochs, log_every_epochs=5, eval_every_epochs=5, checkpoint_every_epochs=FLAGS.epochs)
    return config


def seconds_per_epoch(workdir, steps_per_epoch: int) -> float:
    """(clock at the last evaluation - clock at the first) / epochs between them, of one run or group."""
    records = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
    clock = sorted({(r["step"], r["seconds"]) for r in records if r["split"] == "test"})
    (s0, t0), (s1, t1) = clock[0], clock[-1]
    return (t1 - t0) / ((s1 - s0) / steps_per_epoch)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    quiet_orbax_logs()
    config = sweep_config()
    trials = sweep_lib.trials(config)
    steps_per_epoch = config.dataset.train_examples // config.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        together = sweep_lib.run_sweep(config, f"{tmp}/together")
        together_seconds = time.perf_counter() - start
        (group,) = {r["group"] for r in together}
        together_epoch = seconds_per_epoch(f"{tmp}/together/{config.sweep.name}/groups/{group}", steps_per_epoch)
        start, alone, alone_epoch = time.perf_counter(), [], 0.0
        for i, trial in enumerate(trials):
            alone.append(trainer.train_and_evaluate(sweep_lib.trial_config(config, trial), f"{tmp}/alone/{i}"))
            alone_epoch += seconds_per_epoch(f"{tmp}/alone/{i}", steps_per_epoch)
        alone_seconds = time.perf_counter() - start
    rates = [t["optimizer.learning_rate"] for t in trials]
    by_rate = {r["learning_rate"]: r for r in together}
    difference = {lr: abs(by_rate[lr]["test_loss"] - a["test_loss"]) for lr, a in zip(rates, alone)}
    write("sweep", {
        "trials": len(trials), "learning_rates": rates, "model": "mlp width 100 on MNIST-1D (4,000 examples)",
        "epochs": FLAGS.epochs,
        "together_seconds": round(together_seconds, 1), "one_after_another_seconds": round(alone_seconds, 1),
        "speedup_end_to_end": round(alone_seconds / together_seconds, 2),
        "together_seconds_per_epoch_of_all_trials": round(together_epoch, 3),
        "one_after_another_seconds_per_epoch_of_all_trials": round(alone_epoch, 3),
        "speedup_once_compiled": round(alone_epoch / together_epoch, 2),
        "max_test_loss_difference_together_vs_alone": max(difference.values()),
        "test_loss_difference_by_learning_rate": difference,
        "test_accuracy_by_learning_rate": {lr: round(by_rate[lr]["test_accuracy"], 4) for lr in rates},
    })


if __name__ == "__main__":
    app.run(main)

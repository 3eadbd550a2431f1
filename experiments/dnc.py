"""The differentiable neural computer against the neural Turing machine and an LSTM on repeat copy and associative
recall (Graves et al. 2016; the tasks of Graves, Wayne & Danihelka 2014, sections 4.2-4.3).

Repeat copy: 1-10 vectors to copy 1-10 times, then an end marker (the network must count); tested also on 20
copies of 10 vectors and 10 copies of 20 (beyond training). Associative recall: 2-6 items of 3 vectors, then a
query item; the answer is the item that followed it; tested on 6, 8, 12 and 15 items. Each model trains through
the library's one train step (configs/memory_tasks.py: Adam 1e-3, batches of 32) and is tested on 100 sequences
of each split: wrong bits per sequence and the fraction answered without a wrong bit.

    python experiments/dnc.py                                  # both tasks, the three models
    python experiments/dnc.py --variant=small                  # recall, the DNC and the LSTM, 3/4 of the steps

Runs are resumable (ordinary workdirs under --workdir, one per task and model). Writes results.md/.csv and
dnc.png (learning curves per task; the DNC's usage, write and read weightings over one recall) beside the runs in
--workdir (--update_results: into experiments/dnc/); a run of some tasks or models merges its rows.
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
from deepzoo.data.algorithmic import DATASETS  # noqa: E402
from deepzoo.tasks import metrics as metrics_lib  # noqa: E402
from deepzoo.train import loop, trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402
from deepzoo.train.writers import read_metrics  # noqa: E402

TASKS = ("repeat_copy", "associative_recall")
MODELS = ("dnc", "ntm", "lstm")
PICTURE_SPLIT = "items_8"     # the recall whose memory use dnc.png shows (more items than any seen in training)

FLAGS = flags.FLAGS
# --variant=small's default: the comparison that shows the memory at work in minutes (the NTM, and repeat copy, take
# longer to learn than a small run trains)
SMALL_TASKS, SMALL_MODELS = ["associative_recall"], ["dnc", "lstm"]
flags.DEFINE_list("tasks", None, "Which tasks: repeat_copy, associative_recall (default: both, or with "
                  "--variant=small associative_recall).")
flags.DEFINE_list("models", None, "Which models: dnc, ntm, lstm (default: all three, or with --variant=small dnc "
                  "and lstm).")
flags.DEFINE_string("workdir", "runs/dnc", "Run directories, one per task and model (resumable).")
flags.DEFINE_string("variant", "", "Config option appended to each run: 'small', or 'smoke' for tests.")
report.define_flags()


def test_splits(model, variables, task: str) -> dict[str, dict]:
    """{split: {loss, bit_errors, sequence_accuracy}} on each split of `task` but train."""
    bits = tasks.get("bit_sequence")
    evaluate = jax.jit(lambda v, batch: bits.evaluate(model, v["params"], {}, batch))
    scores = {}
    for split in DATASETS[task]:
        if split == "train":
            continue
        total = None
        for batch in data.eval_batches(data.load(task, split), global_batch_size=500, process_index=0, process_count=1):
            m = evaluate(variables, batch)
            total = m if total is None else metrics_lib.add(total, m)
        scores[split] = metrics_lib.means(jax.device_get(total))
    return scores


def _config(task: str, name: str):
    return config_lib.load(f"configs/memory_tasks.py:{task},{name}" + (f",{FLAGS.variant}" if FLAGS.variant else ""))


def _curve(run: Path, config) -> list[tuple[int, float]]:
    """(sequences seen, validation cost) of a run."""
    return [(r["step"] * config.batch_size, r["loss"]) for r in read_metrics(run) if r.get("split") == "validation"]


def _trace(run: Path):
    """(input, write weightings, read weightings, usage) of the DNC of `run` on one recall of PICTURE_SPLIT, or None
    if that run has not finished."""
    if not loop.finished(run):
        return None
    config = _config("associative_recall", "dnc")
    model = models.get(config.model.name, **config.model.kwargs)
    x = data.load("associative_recall", PICTURE_SPLIT).read(np.arange(1))["input"]
    outputs = jax.jit(lambda v, x: model.apply(v, x, method="trace"))(load_variables(run), x)
    return (x[0], *(np.asarray(a)[0] for a in outputs[1:]))


def plot(curves: dict, trace, path: Path):
    """Top: validation cost against sequences seen, one panel per task. Bottom: the DNC on one recall: usage,
    write weighting and the first read head's weighting over time (location against step)."""
    fig = plt.figure(figsize=(12, 7.5))
    grid = fig.add_gridspec(2, 6, height_ratios=(1, 1.2))
    shown = [task for task in TASKS if any(curves.get((task, model)) for model in MODELS)]
    width = 6 // max(len(shown), 1)
    for i, task in enumerate(shown):
        ax = fig.add_subplot(grid[0, width * i:width * (i + 1)])
        for j, model in enumerate(MODELS):
            points = curves.get((task, model), [])
            if points:
                ax.plot([n / 1000 for n, _ in points], [c for _, c in points], "o-", markersize=3,
                        color=f"C{j}", label=model)
        ax.set_yscale("log")
        ax.set(xlabel="sequences seen (thousands)", ylabel="validation cost (bits per sequence)",
               title=task.replace("_", " "))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    if trace is not None:
        x, write_w, read_w, u = trace
        for i, (image, title) in enumerate(((u.T, "usage"), (write_w.T, "write weighting"),
                                            (read_w[:, 0].T, "read weighting (head 1)"))):
            ax = fig.add_subplot(grid[1, 2 * i:2 * i + 2])
            ax.imshow(image, aspect="auto", cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            for step in np.flatnonzero(x[:, -1]):     # the query delimiters
                ax.axvline(step, color="C3", linewidth=0.8)
            ax.set(xlabel="time step (query delimiters in red)", ylabel="memory location",
                   title=f"DNC, {title}")
    fig.suptitle("DNC vs NTM vs LSTM (Graves et al. 2016); the DNC's memory over one recall of 8 items", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv):
    del argv
    quiet_orbax_logs()
    small = FLAGS.variant == "small"
    chosen_tasks = FLAGS.tasks or (SMALL_TASKS if small else list(TASKS))
    chosen_models = FLAGS.models or (SMALL_MODELS if small else list(MODELS))
    unknown = (set(chosen_tasks) - set(TASKS)) | (set(chosen_models) - set(MODELS))
    if unknown:
        raise app.UsageError(f"unknown tasks or models {sorted(unknown)}; tasks: {', '.join(TASKS)}; models: "
                             f"{', '.join(MODELS)}.")
    output_dir, workdir = report.output_dir(__file__), Path(FLAGS.workdir)
    partial = set(chosen_tasks) != set(TASKS) or set(chosen_models) != set(MODELS)
    report.check_mergeable(output_dir, ["results.csv"], partial)
    rows, curves = [], {}
    for task in chosen_tasks:
        for name in chosen_models:
            run, config = workdir / f"{task}_{name}", _config(task, name)
            trainer.train_and_evaluate(config, run)
            model = models.get(config.model.name, **config.model.kwargs)
            variables = load_variables(run)
            curves[(task, name)] = _curve(run, config)
            for split, s in test_splits(model, variables, task).items():
                rows.append({"task": task, "model": name, "split": split,
                             "params": complexity.count_params(variables["params"]), "steps": config.num_train_steps,
                             "cost": f"{s['loss']:.3f}", "bit_errors": f"{s['bit_errors']:.2f}",
                             "exact": f"{s['sequence_accuracy']:.2f}"})
                logging.info("%s %s %s: %.2f wrong bits, %.0f%% exact", task, name, split, s["bit_errors"],
                             100 * s["sequence_accuracy"])
    for task in TASKS:  # the figure shows every finished run of the workdir, those this command left out too
        for name in MODELS:
            run = workdir / f"{task}_{name}"
            if (task, name) not in curves and loop.finished(run):
                curves[(task, name)] = _curve(run, _config(task, name))
    order = [(t, m, s) for t in TASKS for m in MODELS for s in DATASETS[t]]
    rows = report.merge_rows(output_dir / "results.csv", rows, key=("task", "model", "split"), order=order)
    plot(curves, _trace(workdir / "associative_recall_dnc"), output_dir / "dnc.png")

    lines = ["# Differentiable neural computer vs NTM vs LSTM: repeat copy and associative recall", "",
             "Each model trained on the task's training distribution (configs/memory_tasks.py: Adam 1e-3, batches of "
             "32), tested on 100 sequences of each split (validation: 1,000 of the training distribution). Wrong "
             "bits per sequence / the fraction of sequences without a wrong bit. Regenerate with "
             "`python experiments/dnc.py --update_results`.", ""]
    for task in TASKS:
        splits = [s for s in DATASETS[task] if s != "train"]
        mine = [r for r in rows if r["task"] == task]
        if not mine:
            continue
        lines += [f"## {task.replace('_', ' ')}", "", "| model | parameters | steps | " + " | ".join(splits) + " |",
                  "|---|---|---|" + "---|" * len(splits)]
        for name in MODELS:
            by_split = {r["split"]: r for r in mine if r["model"] == name}
            if by_split:
                first = next(iter(by_split.values()))
                lines.append(f"| {name} | {int(first['params']):,} | {first['steps']} | " + " | ".join(
                    f"{by_split[s]['bit_errors']} / {by_split[s]['exact']}" if s in by_split else "" for s in splits)
                    + " |")
        lines.append("")
    lines += ["![dnc](dnc.png)", ""]
    (output_dir / "results.md").write_text("\n".join(lines))
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    cli.run(main)

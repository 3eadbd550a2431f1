"""Neural architecture search with reinforcement learning (Zoph & Le 2017) against random search with as many child
trainings, on scikit-learn's 8x8 digits.

Each search (configs/nas.py, deepzoo/rl/search.py) samples 8 children of 4 convolutional layers per iteration
(filter sizes 1/3/5, 4-32 filters, skip connections), trains them for 100 steps on three quarters of the training
split and rewards each with its accuracy on the last quarter; NAS updates its controller by REINFORCE, random
search samples uniformly. Three seeds of each. The table gives the best and the mean of the top five rewards, and
the test accuracy of each search's best architecture retrained on the whole training split (configs/nas.py:child);
nas.png the mean and best reward over the iterations and the best architectures found.

    python experiments/nas.py                                 # about an hour on 2 CPU cores
    python experiments/nas.py --variant=small                 # seed 0 of each, half the iterations

Runs are resumable (ordinary workdirs under --workdir, one per method and seed, and one per retrained architecture).
The table and the figure show every finished search of the workdir (default seeds and those of --seeds), those a run
of some methods or seeds left out too.
"""
import json
import sys
from pathlib import Path

import matplotlib
import numpy as np
from absl import app, flags, logging

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo.models import nas as nas_model  # noqa: E402
from deepzoo.rl import search  # noqa: E402
from deepzoo.train import loop, trainer  # noqa: E402
from deepzoo.train.checkpoint import load_arrays, quiet_orbax_logs  # noqa: E402

METHODS = {"nas": "NAS (REINFORCE controller)", "random": "random search"}
SEEDS = ("0", "1", "2")

FLAGS = flags.FLAGS
flags.DEFINE_list("methods", list(METHODS), "Which searches: nas, random.")
flags.DEFINE_list("seeds", list(SEEDS), "Seeds of each search.")
flags.DEFINE_string("workdir", "runs/nas", "Run directories, one per search and per retrained architecture.")
flags.DEFINE_string("variant", "", "Config option appended to each run: 'small' (and seed 0 only unless --seeds "
                    "is given), or 'smoke' for tests.")
report.define_flags()


def _results(run: Path) -> dict | None:
    """results.json of `run`, or None if that run has not finished."""
    return json.loads((run / "results.json").read_text()) if loop.finished(run) else None


def draw_architectures(ax, children: list[tuple[str, list[int]]], layers: int):
    """One row per child (label, tokens): each layer a box as tall and wide as its kernel, shaded by its number of
    filters, and its skip connections as red brackets from the layer they come from."""
    for row, (label, tokens) in enumerate(children):
        heights, widths, filters, skips = (np.asarray(a) for a in nas_model.decode(np.asarray(tokens), layers))
        y = -1.3 * row
        ax.text(-0.7, y, label, ha="right", va="center", fontsize=8)
        for i in range(layers):
            w, h = 0.16 * widths[i], 0.16 * heights[i]
            shade = plt.cm.Blues(0.25 + 0.75 * filters[i] / max(nas_model.FILTERS))
            ax.add_patch(matplotlib.patches.Rectangle((2.2 * i - w / 2, y - h / 2), w, h, fc=shade, ec="k", lw=0.5))
            ax.text(2.2 * i + 0.55, y, f"{heights[i]}x{widths[i]}, {filters[i]}", va="center", fontsize=7)
            for j in np.flatnonzero(skips[i]):
                top = y + 0.55 + 0.08 * j
                ax.plot([2.2 * j, 2.2 * j, 2.2 * i, 2.2 * i], [y + 0.42, top, top, y + 0.42], color="C3", lw=0.8)
    ax.set(xlim=(-6.3, 2.2 * layers - 0.6), ylim=(-1.3 * len(children) + 0.6, 0.9), aspect="equal")
    ax.set_title(f"the best architecture of each search, layers 1 to {layers}: kernel height x width, filters "
                 "(darker: more); red: skip connections", fontsize=9)
    ax.axis("off")


def main(argv):
    del argv
    quiet_orbax_logs()
    unknown = set(FLAGS.methods) - set(METHODS)
    if unknown:
        raise app.UsageError(f"unknown methods {sorted(unknown)}; known: {', '.join(METHODS)}.")
    output_dir, workdir = report.output_dir(__file__), Path(FLAGS.workdir)
    option = f",{FLAGS.variant}" if FLAGS.variant else ""
    if FLAGS.variant == "small" and not FLAGS["seeds"].present:
        FLAGS.seeds = SEEDS[:1]
    searches = {}   # (method, seed): (the search's results, its best architecture's retrained results)
    for method in FLAGS.methods:
        for seed in map(int, FLAGS.seeds):
            config = config_lib.load(f"configs/nas.py:{method}{option}")
            config.seed = seed
            name = f"{method}_seed{seed}"
            found = search.search(config, workdir / name)
            child = config_lib.load(f"configs/nas.py:child{option}")
            child.model.kwargs.architecture = tuple(found["best_tokens"][0])
            retrained = trainer.train_and_evaluate(child, workdir / f"{name}_best")
            searches[method, seed] = (found, retrained)
            logging.info("%s seed %d: best %.2f%%, top five %.2f%%, retrained %.2f%% (%s)", method, seed,
                         100 * found["best_reward"], 100 * found["top5_reward"], 100 * retrained["test_accuracy"],
                         found["best_architectures"][0])
    seeds = sorted({*map(int, SEEDS), *map(int, FLAGS.seeds)})
    for method in METHODS:   # the report shows every finished search of the workdir, those this command left out too
        for seed in seeds:
            if (method, seed) not in searches:
                found, retrained = (_results(workdir / f"{method}_seed{seed}{end}") for end in ("", "_best"))
                if found and retrained:
                    searches[method, seed] = (found, retrained)
    shown = [(method, seed) for method in METHODS for seed in seeds if (method, seed) in searches]
    rows = []
    for method, seed in shown:
        found, retrained = searches[method, seed]
        rows.append({"method": method, "seed": seed, "children": found["children"],
                     "best_reward": f"{found['best_reward']:.4f}", "top5_reward": f"{found['top5_reward']:.4f}",
                     "best_retrained_test_accuracy": f"{retrained['test_accuracy']:.4f}",
                     "best_architecture": found["best_architectures"][0]})
    report.write_rows(output_dir / "results.csv", rows)

    seeds_each = len({s for _, s in shown})
    fig, (ax, drawn) = plt.subplots(2, 1, figsize=(9, 6 + 0.65 * len(shown)), height_ratios=(5, 0.65 * len(shown)))
    for j, method in enumerate(METHODS):
        for k, seed in enumerate(s for m, s in shown if m == method):
            rewards = np.asarray(load_arrays(str(workdir / f"{method}_seed{seed}" / "checkpoints"))["rewards"])
            steps = np.arange(1, len(rewards) + 1)
            label = lambda what: f"{METHODS[method]}: {what}" if k == 0 else None
            ax.plot(steps, 100 * np.nanmean(rewards, 1), color=f"C{j}", alpha=0.5, lw=1, label=label("mean of the 8"))
            ax.plot(steps, 100 * np.fmax.accumulate(np.nanmax(rewards, 1)), color=f"C{j}", lw=2,
                    label=label("best so far"))
    ax.set(xlabel="iteration (8 children each)", ylabel="validation accuracy of the children (%)",
           title=f"Architecture search on the 8x8 digits, {seeds_each} seed{'s' if seeds_each > 1 else ''} each")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)   # below: the curves fill the axes
    draw_architectures(drawn, [(f"{method} seed {seed}: {float(r['best_reward']):.1%}, retrained "
                                f"{float(r['best_retrained_test_accuracy']):.1%}",
                                searches[method, seed][0]["best_tokens"][0]) for (method, seed), r in zip(shown, rows)],
                       config_lib.load("configs/nas.py:nas").model.kwargs.layers)
    fig.tight_layout()
    fig.savefig(output_dir / "nas.png", dpi=110)
    plt.close(fig)

    summary = []
    for method in [m for m in METHODS if any(r["method"] == m for r in rows)]:
        mine = [r for r in rows if r["method"] == method]
        values = lambda field: 100 * np.array([float(r[field]) for r in mine])
        cell = lambda field: (f"{values(field).mean():.2f} ± {values(field).std():.2f}" if len(mine) > 1
                              else f"{values(field)[0]:.2f}")
        summary.append({"method": METHODS[method], "searches": len(mine), "best reward (%)": cell("best_reward"),
                        "top-5 mean reward (%)": cell("top5_reward"),
                        "best retrained, test (%)": cell("best_retrained_test_accuracy")})
    lines = ["# Neural architecture search with reinforcement learning vs random search", "",
             "Each search trains 8 children per iteration (4 convolutional layers: filter heights and widths 1/3/5, "
             "4/8/16/32 filters, skip connections), 100 steps of 32 digits each on three quarters of the training "
             "split, and rewards each with its accuracy on the last quarter; NAS samples from a controller RNN "
             "(2 LSTM layers of 35 units) updated by REINFORCE against a moving-average baseline (Zoph & Le 2017), "
             "random search uniformly. The best architecture of each search is retrained on the whole training "
             "split (600 steps) and tested on the test split (360 digits). Mean ± standard deviation over the "
             "seeds. Regenerate with `python experiments/nas.py --update_results`.", "",
             *report.markdown_table(summary), "", "Each search:", "", *report.markdown_table(rows), "",
             "![rewards](nas.png)", ""]
    (output_dir / "results.md").write_text("\n".join(lines))
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    cli.run(main)

"""Deep RL on classic control, everything inside jit: does each agent solve its task in every seed?

Trains every recipe of configs/classic_control.py (PPO, REINFORCE and DQN on CartPole-v1; DQN and PPO on
Acrobot-v1; DQN on MountainCar-v0), three seeds at once each, and reports per recipe: the environment
steps and wall time, the greedy return of the last policies and of each seed's best policy (chosen by
the evaluations during training, then scored again on 100 fresh episodes), how many seeds are solved
(gym's threshold on a 100-episode mean), and when each seed first reached it.

    python experiments/control.py                   # ~10 min on 2 CPU cores
    python experiments/control.py --recipes=cartpole,ppo --variant=smoke --workdir=/tmp/runs

Runs are resumable (one workdir per recipe). Writes results.md, results.csv, curves.csv and
learning_curves.png beside the runs in --workdir (--update_results: into experiments/control/, the
committed reference); a run of some recipes replaces their rows and keeps the others.
"""
import runpy
import sys
from pathlib import Path

import matplotlib
import numpy as np
from absl import app, flags

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo.plots.curves import draw_returns  # noqa: E402
from deepzoo.rl.agents import train_agent  # noqa: E402
from deepzoo.train.checkpoint import quiet_orbax_logs  # noqa: E402
from deepzoo.train.writers import read_metrics  # noqa: E402

CONFIG = Path(__file__).parents[1] / "configs" / "classic_control.py"
RECIPES = runpy.run_path(str(CONFIG))["RECIPES"]

FLAGS = flags.FLAGS
flags.DEFINE_list("recipes", list(RECIPES), "Recipes to train, cartpole,ppo or cartpole:ppo (default: all).")
flags.DEFINE_string("workdir", "runs/control", "Run directories, one per recipe (resumable), and the report.")
report.define_flags()
flags.DEFINE_string("variant", "", "Config variant, e.g. 'smoke' for tests.")


def recipes(items: list[str]) -> list[str]:
    """--recipes items, spelt cartpole,ppo (as in the config) or cartpole:ppo, as config args."""
    words = [w for item in items for w in item.replace(":", ",").split(",") if w]
    pairs = [f"{env},{agent}" for env, agent in zip(words[::2], words[1::2])]
    unknown = [p for p in pairs if p not in RECIPES] + (words[-1:] if len(words) % 2 else [])
    if unknown:
        raise app.UsageError(f"--recipes: unknown recipe {unknown[0]!r}; known: {', '.join(RECIPES)}.")
    return pairs


def summarise(name: str, config, results, rows) -> dict:
    """The table's row of a recipe; rows: its evaluation records, one per seed and chunk."""
    seeds, threshold = [f"seed{i}" for i in range(config.seeds)], config.env.solved_at
    mine = lambda seed: [r for r in rows if r["member"] == seed]
    first = [next((r["env_steps"] for r in mine(seed) if r["return"] >= threshold), None) for seed in seeds]
    last = [mine(seed)[-1]["return"] for seed in seeds]
    best = [results[f"best_return_seed{i}"] for i in range(config.seeds)]
    fmt = lambda xs: f"{np.mean(xs):.1f} ({min(xs):.1f})"
    solved = lambda xs: f"{sum(x >= threshold for x in xs)}/{len(xs)}"
    return {"recipe": name, "env steps": f"{results['env_steps']:,}", "minutes": f"{results['seconds'] / 60:.1f}",
            "last policies: mean (lowest seed)": fmt(last), "last solved": solved(last),
            "best policies, re-scored": fmt(best), "best solved": solved(best),
            "first solved at (env steps, per seed)": ", ".join(f"{f:,}" if f is not None else "never" for f in first)}


def plot(curves: dict, path: Path):
    columns = min(len(curves), 3)
    rows_of_plots = -(-len(curves) // columns)
    fig, axes = plt.subplots(rows_of_plots, columns, figsize=(4.2 * columns, 3.3 * rows_of_plots), squeeze=False)
    for ax in axes.flat[len(curves):]:
        ax.set_visible(False)
    for ax, (name, (rows, threshold)) in zip(axes.flat, curves.items()):
        draw_returns(ax, rows, name, threshold)
    for ax in axes[:, 0]:
        ax.set_ylabel("greedy return (100 episodes)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv):
    del argv
    quiet_orbax_logs()
    output_dir, chosen = report.output_dir(__file__), recipes(FLAGS.recipes)
    report.check_mergeable(output_dir, ["results.csv", "curves.csv"], set(chosen) != set(RECIPES))
    rows, curves = [], []
    for name in chosen:
        config = config_lib.load(f"{CONFIG}:{name}" + (f",{FLAGS.variant}" if FLAGS.variant else ""))
        workdir = Path(FLAGS.workdir) / name.replace(",", "_")
        results = train_agent(config, workdir)
        evals = [r for r in read_metrics(workdir) if r.get("split") == "eval"]
        rows.append(summarise(name, config, results, evals))
        curves += [{"recipe": name, "member": r["member"], "env_steps": r["env_steps"], "return": r["return"],
                    "solved_at": config.env.solved_at} for r in evals]
    # Recipes run before (here, or in the committed reference) keep their rows and curves.
    rows = report.merge_rows(output_dir / "results.csv", rows, key=("recipe",), order=RECIPES)
    curves = report.merge_rows(output_dir / "curves.csv", curves, key=("recipe",), order=RECIPES)
    by_recipe = {}
    for r in curves:
        by_recipe.setdefault(r["recipe"], ([], float(r["solved_at"])))[0].append(
            {"member": r["member"], "env_steps": int(r["env_steps"]), "return": float(r["return"])})
    plot(by_recipe, output_dir / "learning_curves.png")
    lines = ["# Deep RL on classic control (gymnax, everything inside jit)", "",
             "Three seeds per recipe (configs/classic_control.py), trained at once with vmap; every evaluation "
             "is the greedy policy's mean return over 100 episodes. *Last*: the policies at the end of training; "
             "*best*: each seed's best evaluated policy, played again on 100 fresh episodes (early stopping; "
             "those scores are not the ones that chose it). Solved: CartPole-v1 475, Acrobot-v1 -100, "
             "MountainCar-v0 -110. Minutes include compiling, on 2 CPU cores. Regenerate with "
             "`python experiments/control.py --update_results`.", "", *report.markdown_table(rows), "",
             "![learning curves](learning_curves.png)"]
    (output_dir / "results.md").write_text("\n".join(lines) + "\n")
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    cli.run(main)

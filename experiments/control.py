"""Deep RL on classic control, everything inside jit: does each agent solve its task in every seed?

Trains every recipe of configs/classic_control.py (PPO, REINFORCE and DQN on CartPole-v1; DQN and PPO on
Acrobot-v1; DQN on MountainCar-v0), three seeds at once each, and reports per recipe: the environment
steps and wall time, the greedy return of the last policies and of each seed's best policy (chosen by
the evaluations during training, then scored again on 100 fresh episodes), how many seeds are solved
(gym's threshold on a 100-episode mean), and when each seed first reached it.

    python experiments/control.py                   # ~10 min on 2 CPU cores
    python experiments/control.py --recipes=cartpole,ppo --variant=smoke --workdir=/tmp/runs

Runs are resumable (one workdir per recipe); writes results.md and learning_curves.png to --output_dir
(default: experiments/control/).
"""
import runpy
from pathlib import Path

import matplotlib
import numpy as np
from absl import app, flags

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from deepzoo import config as config_lib  # noqa: E402
from deepzoo.plots.curves import draw_returns  # noqa: E402
from deepzoo.rl.agents import train_agent  # noqa: E402
from deepzoo.train.checkpoint import quiet_orbax_logs  # noqa: E402
from deepzoo.train.writers import read_metrics  # noqa: E402

CONFIG = Path(__file__).parents[1] / "configs" / "classic_control.py"
RECIPES = runpy.run_path(str(CONFIG))["RECIPES"]

FLAGS = flags.FLAGS
flags.DEFINE_list("recipes", [r.replace(",", ":") for r in RECIPES], "env:agent pairs to train (default: all).")
flags.DEFINE_string("workdir", "runs/control", "Run directories, one per recipe (resumable).")
flags.DEFINE_string("output_dir", str(Path(__file__).with_suffix("")), "Where tables and figures go.")
flags.DEFINE_string("variant", "", "Config variant, e.g. 'smoke' for tests.")


def summarise(config, results, rows) -> dict:
    """rows: the evaluation records, one per seed and chunk."""
    seeds, threshold = [f"seed{i}" for i in range(config.seeds)], config.env.solved_at
    mine = lambda seed: [r for r in rows if r["member"] == seed]
    first = [next((r["env_steps"] for r in mine(seed) if r["return"] >= threshold), None) for seed in seeds]
    return {"env_steps": results["env_steps"], "minutes": results["seconds"] / 60, "threshold": threshold,
            "last": [mine(seed)[-1]["return"] for seed in seeds],
            "best": [results[f"best_return_seed{i}"] for i in range(config.seeds)], "first_solved": first}


def table(summaries: dict) -> list[str]:
    fmt = lambda xs: f"{np.mean(xs):.1f} ({min(xs):.1f})"
    solved = lambda xs, t: f"{sum(x >= t for x in xs)}/{len(xs)}"
    lines = ["| recipe | env steps | minutes | last policies: mean (lowest seed) | solved | best policies, "
             "re-scored | solved | first solved at (env steps, per seed) |", "|---|---|---|---|---|---|---|---|"]
    for name, s in summaries.items():
        first = ", ".join(f"{f:,}" if f is not None else "never" for f in s["first_solved"])
        lines.append(f"| {name} | {s['env_steps']:,} | {s['minutes']:.1f} | {fmt(s['last'])} | "
                     f"{solved(s['last'], s['threshold'])} | {fmt(s['best'])} | {solved(s['best'], s['threshold'])} "
                     f"| {first} |")
    return lines


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
    output_dir = Path(FLAGS.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    summaries, curves = {}, {}
    for recipe in FLAGS.recipes:
        name = recipe.replace(":", ",")
        config = config_lib.load(f"{CONFIG}:{name}" + (f",{FLAGS.variant}" if FLAGS.variant else ""))
        workdir = Path(FLAGS.workdir) / name.replace(",", "_")
        results = train_agent(config, workdir)
        rows = [r for r in read_metrics(workdir) if r.get("split") == "eval"]
        summaries[name] = summarise(config, results, rows)
        curves[name] = (rows, config.env.solved_at)
    plot(curves, output_dir / "learning_curves.png")
    lines = ["# Deep RL on classic control (gymnax, everything inside jit)", "",
             "Three seeds per recipe (configs/classic_control.py), trained at once with vmap; every evaluation "
             "is the greedy policy's mean return over 100 episodes. *Last*: the policies at the end of training; "
             "*best*: each seed's best evaluated policy, played again on 100 fresh episodes (early stopping; "
             "those scores are not the ones that chose it). Solved: CartPole-v1 475, Acrobot-v1 -100, "
             "MountainCar-v0 -110. Minutes include compiling, on 2 CPU cores. Regenerate with "
             "`python experiments/control.py`.", "", *table(summaries), "",
             "![learning curves](learning_curves.png)"]
    (output_dir / "results.md").write_text("\n".join(lines) + "\n")
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    app.run(main)

"""RLHF in miniature: the three steps of InstructGPT (Ouyang et al. 2022) on sorting prompts whose true quality a
hidden rule scores (deepzoo/data/sorting.py), and the over-optimisation of a learned reward (Gao et al. 2022).

    1. supervised fine-tuning of a small GPT on labellers' demonstrations   (configs/rlhf.py:sft)
    2. a reward model on noisy pairwise preferences, Bradley-Terry loss      (configs/rlhf.py:reward)
    3. PPO against the reward model with a per-token KL penalty to the SFT policy, at several KL coefficients
                                                                             (configs/rlhf.py:ppo, deepzoo/rl/rlhf.py)
and best-of-n sampling from the SFT policy (reranked by the reward model) as the baseline that needs no training.
Every policy answers the 1,000 test prompts; the table gives the reward model's score (the proxy), the hidden rule's
(the truth) and the KL to the SFT policy; rlhf.png plots both scores against the KL, along PPO's training and along n.

    python experiments/rlhf.py                    # about 20 minutes on 2 CPU cores
    python experiments/rlhf.py --variant=small

Runs are resumable (ordinary workdirs under --workdir: sft, reward, ppo_kl<coefficient>). The table and the figure
show every finished PPO run of the workdir at the default coefficients, those a run of some --kl_coefs left out too.
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
from deepzoo.rl import rlhf  # noqa: E402
from deepzoo.train import loop, trainer  # noqa: E402
from deepzoo.train.checkpoint import quiet_orbax_logs  # noqa: E402
from deepzoo.train.writers import read_metrics  # noqa: E402

KL_COEFS = ("0.5", "0.2", "0.05", "0")

FLAGS = flags.FLAGS
flags.DEFINE_list("kl_coefs", list(KL_COEFS), "PPO's KL coefficients, one run each.")
flags.DEFINE_list("best_of", ["1", "2", "4", "8", "16"], "The n of best-of-n sampling from the SFT policy.")
flags.DEFINE_string("workdir", "runs/rlhf", "Run directories: sft, reward, ppo_kl<coefficient>.")
flags.DEFINE_string("variant", "", "Config option appended to each run: 'small', or 'smoke' for tests.")
report.define_flags()

# Flags that make another experiment than the committed reference (--update_results refuses them): best-of-n is
# sampled again by each command, not kept in a run, so the reference's best-of-n rows come from one command.
FIXED = ("best_of",)


def _curve(run: Path) -> list[dict]:
    """The test records of a PPO run, one per evaluation."""
    return [r for r in read_metrics(run) if r["split"] == "test"]


def main(argv):
    del argv
    quiet_orbax_logs()
    try:
        coefs = [float(c) for c in FLAGS.kl_coefs]
        ns = [int(n) for n in FLAGS.best_of]
    except ValueError as e:
        raise app.UsageError(f"--kl_coefs takes numbers and --best_of whole numbers: {e}") from None
    output_dir, workdir = report.output_dir(__file__, fixed=FIXED), Path(FLAGS.workdir)
    option = f",{FLAGS.variant}" if FLAGS.variant else ""

    trainer.train_and_evaluate(config_lib.load(f"configs/rlhf.py:sft{option}"), workdir / "sft")
    reward = trainer.train_and_evaluate(config_lib.load(f"configs/rlhf.py:reward{option}"), workdir / "reward")
    ppo = config_lib.load(f"configs/rlhf.py:ppo{option}")
    ppo.rlhf.sft_workdir, ppo.rlhf.reward_workdir = str(workdir / "sft"), str(workdir / "reward")

    # The SFT policy and best-of-n from it, scored with PPO's evaluation key.
    program = rlhf.RLHF(ppo)
    sft_params = program.init()["policy"].params
    logging.info("Best-of-n sampling from the SFT policy, n up to %d", max(ns))
    best = rlhf.best_of_n(program, sft_params, program.eval_prompts, ns)
    rows = [{"policy": "SFT" if b["n"] == 1 else f"best-of-{b['n']} (SFT's samples)", **b} for b in best]

    results, curves = {}, {}
    for coef in coefs:
        config = ppo.copy_and_resolve_references()
        config.rlhf.kl_coef = coef
        run = workdir / f"ppo_kl{coef:g}"
        result = results[coef] = rlhf.train_rlhf(config, run)
        curves[coef] = _curve(run)
        logging.info("PPO kl %g: proxy %.3f, true %.3f, KL %.2f", coef, result["proxy_reward"], result["true_score"],
                     result["kl"])
    for coef in {float(c) for c in KL_COEFS} - set(curves):   # the PPO runs this command left out, if finished
        run = workdir / f"ppo_kl{coef:g}"
        if loop.finished(run):
            results[coef], curves[coef] = json.loads((run / "results.json").read_text()), _curve(run)
    curves = {coef: curves[coef] for coef in sorted(curves, reverse=True)}   # the largest coefficient first
    rows += [{"policy": f"PPO, KL coefficient {coef:g}", **results[coef]} for coef in curves]

    table = [{"policy": r["policy"], "KL to SFT (nats)": f"{r['kl']:.2f}",
              "reward model score": f"{r['proxy_reward']:.3f}", "true score": f"{r['true_score']:.3f}",
              "sorted exactly (%)": f"{100 * r['exact']:.1f}"} for r in rows]
    report.write_rows(output_dir / "results.csv", table)
    plot(best, curves, output_dir / "rlhf.png")
    lines = ["# RLHF in miniature: SFT, a reward model, PPO, and over-optimisation", "",
             "Sorting prompts (3-8 random digits) whose answers a hidden rule scores in [0, 1] (the fraction of "
             "positions right, times 0.7 per digit too many or too few; deepzoo/data/sorting.py). "
             "Step 1: a GPT of 2 blocks of width 64 trained on 20,000 demonstrations with 0 or 1 mistakes each. "
             f"Step 2: a reward model of the same size on 10,000 preference pairs, 10% of the labels flipped: "
             f"**{100 * reward['validation_accuracy']:.1f}%** of 1,000 held-out pairs ranked as labelled. "
             "Step 3: PPO from the SFT policy against the reward model with a per-token KL penalty to the SFT "
             "policy (Ouyang et al. 2022), 64 prompts per iteration. Best-of-n: n answers sampled from the SFT "
             "policy, the reward model's favourite kept (its KL to SFT is log n - (n - 1)/n). Every policy answers "
             "the 1,000 test prompts once (temperature 1). Regenerate with "
             "`python experiments/rlhf.py --update_results`.", "",
             *report.markdown_table(table), "", "![over-optimisation](rlhf.png)", ""]
    (output_dir / "results.md").write_text("\n".join(lines))
    print((output_dir / "results.md").read_text())


def plot(best, curves, path):
    """The reward model's score and the true score against the KL to the SFT policy: best-of-n along n, each PPO run
    along its training (Gao et al. 2022, Figure 1)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True)
    for ax, key, title in zip(axes, ("proxy_reward", "true_score"), ("reward model's score (the proxy)",
                                                                      "hidden rule's score (the truth)")):
        ax.plot([b["kl"] for b in best], [b[key] for b in best], "k--o", ms=4, label="best-of-n from SFT")
        for j, (coef, records) in enumerate(curves.items()):
            ax.plot([0.0] + [r["kl"] for r in records], [best[0][key]] + [r[key] for r in records], "-o", ms=3,
                    color=f"C{j}", label=f"PPO, KL coefficient {coef:g}")
        ax.set_xscale("function", functions=(np.sqrt, np.square))     # as Gao et al.: scores are ~linear in sqrt(KL)
        ax.set_xlim(left=0)
        ax.set_xticks([0, 0.5, 1, 2, 5, 10, 20])
        ax.set(xlabel="KL to the SFT policy (nats per answer, square-root scale)", ylabel=key.replace("_", " "),
               title=title)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle("Optimising a learned reward: the proxy rises, the truth need not")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    cli.run(main)

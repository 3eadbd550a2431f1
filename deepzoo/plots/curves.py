"""Learning curves from a run's metrics records (train/writers.read_metrics): one panel per metric, and
the spread of an agent's seeds. `path` may be local or in a bucket (an etils.epath.Path).

    learning_curves(records, path)                      one panel per metric, every split on it
    seed_returns(records, path, title, solved_at)       an RL run's evaluation returns over its seeds
    draw_returns(ax, rows, title, solved_at)            the seeds' mean and min-max band on an existing axis
"""
import numpy as np
from matplotlib.figure import Figure   # no pyplot: drawing leaves the caller's backend alone

# Not curves: bookkeeping of the loop.
_SKIP = {"step", "split", "member", "seconds", "steps_per_sec", "epochs_per_sec", "chunks_per_sec", "mfu",
         "learning_rate"}


def _save(fig, path):
    fig.tight_layout()
    with path.open("wb") as f:
        fig.savefig(f, format="png", dpi=100)
    return path


def learning_curves(records, path):
    """One panel per metric, every split on it, against the step; records of several members (a sweep's
    trials) are averaged per step."""
    names = sorted({k for r in records for k, v in r.items() if isinstance(v, (int, float))} - _SKIP)
    if not names:
        return None
    members = len({r["member"] for r in records if "member" in r})
    fig = Figure(figsize=(4.5 * len(names), 3.5))
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, name in zip(axes[0], names):
        for split in sorted({r["split"] for r in records}):
            by_step = {}
            for r in records:
                if r["split"] == split and name in r:
                    by_step.setdefault(r["step"], []).append(r[name])
            if by_step:
                steps = sorted(by_step)
                ax.plot(steps, [np.mean(by_step[s]) for s in steps], label=split,
                        marker="." if len(steps) < 30 else None)
        ax.set(title=f"{name} (mean of {members})" if members else name, xlabel="step")
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def draw_returns(ax, rows, title: str, solved_at: float | None = None):
    """The seeds' mean greedy return and its min-max band against environment steps, from eval rows
    (one per seed and evaluation, with "member", "env_steps" and "return")."""
    by_steps = {}
    for r in rows:
        by_steps.setdefault(r["env_steps"], []).append(r["return"])
    steps = np.array(sorted(by_steps))
    returns = np.array([by_steps[s] for s in steps])
    ax.plot(steps, returns.mean(1), label=f"mean of {returns.shape[1]} seeds")
    ax.fill_between(steps, returns.min(1), returns.max(1), alpha=0.25, label="min-max over seeds")
    if solved_at is not None:
        ax.axhline(solved_at, color="k", ls=":", lw=1, label=f"solved ({solved_at:g})")
    ax.set(xlabel="environment steps", title=title)
    ax.grid(alpha=0.3)


def seed_returns(records, path, title: str, solved_at: float | None = None):
    """Plots an RL run's greedy evaluation returns over its seeds (draw_returns) from the "eval"
    records that have a "member" into the PNG `path`; returns `path`, or None when there are none."""
    rows = [r for r in records if r.get("split") == "eval" and "member" in r]
    if not rows:
        return None
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    draw_returns(ax, rows, title, solved_at)
    ax.set_ylabel("greedy evaluation return")
    ax.legend()
    return _save(fig, path)

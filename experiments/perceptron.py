"""The perceptron: Novikoff's mistake bound, measured, and the XOR problem it cannot solve.

Rosenblatt's (1958) perceptron learns by w <- w + y x on each misclassified example. Novikoff (1962) proved
that on data separable by a unit vector w* with margin gamma = min_i y_i w* . x_i and radius R = max_i ||x_i||,
starting from w = 0, it makes at most (R / gamma)^2 mistakes, whatever the order of the examples; then it
classifies every example correctly. (The bias is a weight on a constant input 1, so x = (point, 1) in R and
gamma.) Here the `perceptron` model is trained by the library's one train step on the perceptron criterion,
with SGD of learning rate 1 on one example at a time (exactly Rosenblatt's update; tests/test_perceptron.py),
on generated datasets of decreasing margin, and its mistakes are counted until an epoch makes none.

Minsky and Papert (1969) made XOR the emblem of what one threshold unit cannot do: no line separates
{(0,0), (1,1)} from {(0,1), (1,0)}, so at most 3 of the 4 points are ever right. A one-hidden-layer MLP
(the registry's `mlp`, trained with the classification task) separates them.

    python experiments/perceptron.py      # about 20 s on 2 CPU cores

Writes perceptron.png, results.md and results.csv to --output_dir (default runs/perceptron;
--update_results: experiments/perceptron/).
"""
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import ml_collections
import numpy as np
import optax
from absl import flags, logging

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, models, report, tasks  # noqa: E402
from deepzoo.train import optim  # noqa: E402
from deepzoo.train.state import create_train_state  # noqa: E402
from deepzoo.train.step import make_train_step  # noqa: E402

DEFAULT_MARGINS = (0.3, 0.2, 0.1, 0.05, 0.03)
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_Y = np.array([0, 1, 1, 0], np.int32)


def separable_dataset(n: int, dim: int, gamma: float, seed: int):
    """n points of the unit ball in R^dim, labelled +-1 by a random unit w* on (x, 1), none closer than gamma
    to its hyperplane. Returns (x, y, R, margin): R and the margin measured on (x, 1) with w*."""
    rng = np.random.default_rng(seed)
    w_star = rng.normal(size=dim + 1)
    w_star[-1] *= 0.2          # the hyperplane passes near the centre of the ball, so both classes are large
    w_star /= np.linalg.norm(w_star)
    points = []
    while len(points) < n:
        p = rng.uniform(-1, 1, size=(4 * n, dim))
        p = p[np.linalg.norm(p, axis=1) <= 1]
        points.extend(p[np.abs(np.c_[p, np.ones(len(p))] @ w_star) >= gamma])
    x = np.array(points[:n], np.float32)
    xa = np.c_[x, np.ones(n)]
    y = np.sign(xa @ w_star)
    return x, y.astype(np.float32), float(np.max(np.linalg.norm(xa, axis=1))), float(np.min(y * (xa @ w_star)))


def train_perceptron(x, y, *, max_epochs: int = 1000, seed: int = 0):
    """Rosenblatt's rule as one SGD step of lr 1 per example through make_train_step, each epoch in a new
    random order, until an epoch makes no mistake. Returns (params, mistakes in all, epochs, mistakes per
    epoch, the parameters after each example of the last epoch)."""
    model, task, tx = models.get("perceptron"), tasks.get("perceptron"), optax.sgd(1.0)
    state = create_train_state(model, tx, x[:1], seed=0)
    step = make_train_step(model, task, tx, seed=0)

    @jax.jit
    def epoch(state, x, y):
        def one(state, xy):
            state, metrics = step(state, {"input": xy[0][None], "label": xy[1][None]})
            return state, (metrics["mistakes"][0], state.params)
        state, (mistakes, trace) = jax.lax.scan(one, state, (x, y))
        return state, jnp.sum(mistakes), trace

    per_epoch, rng = [], np.random.default_rng(seed)
    for _ in range(max_epochs):
        order = rng.permutation(len(x))
        state, mistakes, trace = epoch(state, jnp.asarray(x[order]), jnp.asarray(y[order]))
        per_epoch.append(int(mistakes))
        if mistakes == 0:
            break
    return state.params, sum(per_epoch), len(per_epoch), per_epoch, trace


def train_mlp_on_xor(width: int = 8, steps: int = 500, seed: int = 0):
    """The registry's `mlp` with one hidden layer of tanh units, full-batch Adam on the four XOR points."""
    model = models.get("mlp", depth=1, width=width, num_outputs=2, activation="tanh")
    task = tasks.get("classification")
    tx, _ = optim.create(ml_collections.ConfigDict({"name": "adam", "learning_rate": 0.05}), steps)
    state = create_train_state(model, tx, XOR_X, seed=seed)
    step = make_train_step(model, task, tx, seed=seed)
    batch = {"input": XOR_X, "label": XOR_Y}
    state = jax.jit(lambda s: jax.lax.scan(lambda s, _: (step(s, batch)[0], None), s, None, length=steps)[0])(state)
    return model, state.params


def run(output_dir, *, margins=DEFAULT_MARGINS, datasets: int = 4, num_points: int = 500, dim: int = 2,
        xor_epochs: int = 100, seed: int = 0):
    """The Novikoff table (one row per dataset) and the XOR figure; writes perceptron.png, results.md, results.csv."""
    start = time.perf_counter()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, gamma in enumerate(margins):
        for k in range(datasets):
            x, y, radius, margin = separable_dataset(num_points, dim, gamma, seed + 1000 * i + k)
            _, mistakes, epochs, _, _ = train_perceptron(x, y)
            rows.append({"target_margin": gamma, "dataset": k, "R": radius, "margin": margin,
                         "bound": (radius / margin) ** 2, "mistakes": mistakes, "epochs": epochs})
            logging.info("margin %.3f dataset %d: %d mistakes (bound %.0f) in %d epochs", margin, k, mistakes,
                         rows[-1]["bound"], epochs)

    # XOR: the perceptron keeps making mistakes; the MLP separates the four points.
    # Its weights cycle (the boundary case w = 0 included); the figure shades the best of the last epoch's
    # weight vectors and draws the lines of all of them.
    _, mistakes, epochs, per_epoch, trace = train_perceptron(XOR_X, 2.0 * XOR_Y - 1.0, max_epochs=xor_epochs)
    perceptron = models.get("perceptron")
    visited = [jax.tree.map(lambda a, i=i: a[i], trace) for i in range(len(XOR_X))]
    right = [float(np.mean((np.asarray(perceptron.apply({"params": p}, XOR_X)) > 0) == XOR_Y)) for p in visited]
    params, p_acc = visited[int(np.argmax(right))], max(right)
    mlp, mlp_params = train_mlp_on_xor()
    m_acc = float(np.mean(np.argmax(np.asarray(mlp.apply({"params": mlp_params}, XOR_X)), -1) == XOR_Y))
    xor = {"epochs": epochs, "mistakes_last_epoch": per_epoch[-1], "perceptron_accuracy": p_acc,
           "mlp_accuracy": m_acc, "visited": visited}

    report.write_rows(output_dir / "results.csv", [{k: f"{v:.6g}" if isinstance(v, float) else v
                                                     for k, v in r.items()} for r in rows])
    _write_markdown(output_dir / "results.md", rows, xor, num_points, dim, time.perf_counter() - start)
    _plot(output_dir / "perceptron.png", rows, (perceptron, params), (mlp, mlp_params), xor, margins)
    return rows, xor


def _write_markdown(path, rows, xor, num_points, dim, seconds):
    table = [{"margin gamma": f"{r['margin']:.4f}", "R": f"{r['R']:.3f}", "bound (R/gamma)^2": f"{r['bound']:,.0f}",
              "mistakes": r["mistakes"], "mistakes / bound": f"{r['mistakes'] / r['bound']:.3f}",
              "epochs": r["epochs"]} for r in rows]
    held = all(r["mistakes"] <= r["bound"] for r in rows)
    targets = list(dict.fromkeys(r["target_margin"] for r in rows))
    by_margin = ", ".join(f"{t:g}: {np.mean([r['mistakes'] for r in rows if r['target_margin'] == t]):.1f}"
                          for t in targets)
    worst = max(r["mistakes"] / r["bound"] for r in rows)
    lines = ["# The perceptron: Novikoff's bound, and XOR", "",
             f"Datasets of {num_points} points of the unit disc (dimension {dim}) separated by a random line with a "
             f"margin of at least the target; the bias is a weight on a constant input 1, so R = max ||(x, 1)|| "
             f"and the margin gamma = min y w*.(x, 1) of the unit w* that made the labels. The `perceptron` starts "
             f"at w = 0 and learns by the library's train step on the perceptron criterion, SGD with learning rate "
             f"1 on one example at a time, each epoch in a new random order, until an epoch makes no mistake.", "",
             "Novikoff (1962): mistakes <= (R / gamma)^2.", "",
             *report.markdown_table(table), "",
             f"The bound held on every dataset: {held}; the most mistakes relative to the bound was {worst:.3f} of "
             f"it. The bound is the worst case over every order of the examples and uses w*'s margin, not the "
             f"widest one, so it is loose. Mean mistakes by target margin: {by_margin}.", "",
             "## XOR", "",
             f"After {xor['epochs']} epochs on the four XOR points the perceptron still made "
             f"{xor['mistakes_last_epoch']} mistakes in the last one: its weights cycle, and the best of those it "
             f"passed through in that epoch classifies {xor['perceptron_accuracy']:.0%} of the points (no line does "
             f"better than 75%). A one-hidden-layer "
             f"`mlp` (8 tanh units, Adam 0.05, 500 full-batch steps on the cross-entropy) classifies "
             f"{xor['mlp_accuracy']:.0%}.", "",
             "![XOR boundaries of the perceptron and an MLP; mistakes against Novikoff's bound](perceptron.png)", "",
             f"The experiment computed for {seconds:.0f} s on 2 CPU cores (the command takes ~7 s more to start).", ""]
    path.write_text("\n".join(lines))


def _boundary(ax, predict, title):
    g = np.linspace(-0.5, 1.5, 301, dtype=np.float32)
    gx, gy = np.meshgrid(g, g)
    z = predict(np.c_[gx.ravel(), gy.ravel()]).reshape(gx.shape)
    ax.contourf(gx, gy, z, levels=[-0.5, 0.5, 1.5], colors=["#f4c7c3", "#c6dbef"])
    ax.contour(gx, gy, z, levels=[0.5], colors="k", linewidths=1.5)
    for label, marker, color in ((0, "o", "tab:red"), (1, "s", "tab:blue")):
        pts = XOR_X[XOR_Y == label]
        ax.scatter(pts[:, 0], pts[:, 1], marker=marker, s=120, c=color, edgecolors="k", zorder=3,
                   label=f"XOR = {label}")
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylim(-0.5, 1.5)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title, fontsize=11)


def _plot(path, rows, perceptron, mlp, xor, margins):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), layout="constrained")
    model, params = perceptron
    _boundary(axes[0], lambda p: (np.asarray(model.apply({"params": params}, p)) > 0).astype(int),
              f"perceptron on XOR, epoch {xor['epochs']}: its weights cycle; the best of\n"
              f"that epoch's is {xor['perceptron_accuracy']:.0%} right (shaded; a line gets at most 75%)")
    g = np.linspace(-0.5, 1.5, 2)
    for p in xor["visited"]:
        w, b = np.asarray(p["w"]), float(p["b"])
        if abs(w[1]) > 1e-6:
            axes[0].plot(g, -(w[0] * g + b) / w[1], "--", color="0.3", lw=1)
        elif abs(w[0]) > 1e-6:
            axes[0].axvline(-b / w[0], ls="--", color="0.3", lw=1)
    model, params = mlp
    _boundary(axes[1], lambda p: np.argmax(np.asarray(model.apply({"params": params}, p)), -1),
              f"one-hidden-layer MLP (8 tanh units) on XOR:\n{xor['mlp_accuracy']:.0%} right")
    axes[1].legend(loc="upper center", fontsize=9, ncol=2)

    ax = axes[2]
    bound = np.array([r["bound"] for r in rows])
    mistakes = np.array([r["mistakes"] for r in rows])
    measured = np.array([r["margin"] for r in rows])
    sc = ax.scatter(bound, mistakes, c=np.log10(measured), cmap="viridis", s=40, zorder=3)
    lim = [1, bound.max() * 2]
    margins = sorted(margins, reverse=True)
    ax.plot(lim, lim, "k--", lw=1, label="mistakes = bound (Novikoff)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*lim)
    ax.set_ylim(0.7, bound.max() * 2)
    ax.set_xlabel("Novikoff's bound $(R/\\gamma)^2$")
    ax.set_ylabel("mistakes until an epoch makes none")
    ax.set_title("perceptron mistakes vs the bound\n(each point a generated dataset)", fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    cbar = fig.colorbar(sc, ax=ax)
    cbar.set_label("margin $\\gamma$")
    cbar.set_ticks(np.log10(margins), labels=[f"{m:g}" for m in margins])
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _define_flags():
    flags.DEFINE_list("margins", [str(m) for m in DEFAULT_MARGINS], "Target margins of the generated datasets.")
    flags.DEFINE_integer("datasets", 4, "Datasets per margin.")
    flags.DEFINE_integer("num_points", 500, "Points per dataset.")
    flags.DEFINE_integer("dim", 2, "Dimension of the points.")
    flags.DEFINE_integer("seed", 0, "Seed of the datasets.")
    report.define_flags()


FIXED = ("margins", "datasets", "num_points", "dim", "seed")


def main(argv):
    del argv
    f = flags.FLAGS
    if f.dim < 1 or f.num_points < 2 or f.datasets < 1:
        raise ValueError("--dim, --datasets must be >= 1 and --num_points >= 2.")
    margins = [float(m) for m in f.margins]
    if not all(0 < m < 1 for m in margins):
        raise ValueError(f"--margins={f.margins}: each margin must lie in (0, 1), inside the unit ball.")
    start, output_dir = time.perf_counter(), report.output_dir(__file__, fixed=FIXED)
    run(output_dir, margins=margins, datasets=f.datasets, num_points=f.num_points, dim=f.dim, seed=f.seed)
    logging.info("wrote %s in %.0f s", output_dir, time.perf_counter() - start)


if __name__ == "__main__":
    _define_flags()
    cli.run(main)

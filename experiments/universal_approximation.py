"""Universal approximation: one hidden layer fits a continuous function better the wider it is.

Cybenko (1989) proved that sums of sigmoids, sum_i v_i sigmoid(a_i x + b_i) + c, come arbitrarily close
to any continuous function on a compact set once there are enough of them. This experiment trains the
registry's `shallow_mlp` (1 input, one hidden layer of `width` units, 1 output) on a continuous 1-D
function over [-1, 1] for widths 1, 2, 4, ..., 128 and measures the worst-case error on a grid about
8x denser than the training grid, so that the points between training points count too.

Beside each width, an RBF network (Broomhead & Lowe 1988; the registry's `rbf_network`) with as many Gaussian
units, fitted in closed form through the shared fit (deepzoo/train/fit.py): centres by k-means (k-means++
start, 30 Lloyd steps), each width the root mean square distance to its 2 nearest centres (Moody & Darken
1989), the readout by least squares (no gradient descent at all).

    python experiments/universal_approximation.py                       # sigmoid, the default function (~3 min)
    python experiments/universal_approximation.py --activation=relu --function=runge \
        --output_dir=/tmp/uat_relu_runge

Writes fits.png, results.md and results.csv to --output_dir (default runs/universal_approximation;
--update_results: experiments/universal_approximation/).
"""
import csv
import sys
import textwrap
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import ml_collections
import numpy as np
from absl import flags, logging

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, models, report, tasks  # noqa: E402
from deepzoo import data  # noqa: E402
from deepzoo.tasks.kmeans import KMeans, initial_centres  # noqa: E402
from deepzoo.tasks.least_squares import LeastSquares  # noqa: E402
from deepzoo.train import fit, optim  # noqa: E402
from deepzoo.train.state import create_train_state  # noqa: E402
from deepzoo.train.step import make_eval_step, make_train_step  # noqa: E402

# name -> (function of a numpy array, label for the figure). All are continuous on [-1, 1]; the
# kinks and the infinite slope are there because the theorem asks for continuity, not smoothness.
FUNCTIONS = {
    "wave": (lambda x: np.sin(3 * np.pi * x) * np.exp(-x**2) + 0.3 * np.abs(x),
             r"$\sin(3\pi x)\,e^{-x^2} + 0.3\,|x|$"),
    "runge": (lambda x: 1.0 / (1.0 + 25.0 * x**2), r"$1 / (1 + 25x^2)$"),
    "abs": (np.abs, r"$|x|$"),
    "zigzag": (lambda x: 2.0 / np.pi * np.arcsin(np.sin(2.5 * np.pi * x)), "triangle wave, 2.5 periods"),
    "sqrt_abs": (lambda x: np.sqrt(np.abs(x)), r"$\sqrt{|x|}$"),
}
DEFAULT_WIDTHS = (1, 2, 4, 8, 16, 32, 64, 128)

# ReLU-like units grow with their input (relu(a z) = a relu(z), and gelu, silu, elu nearly so): they
# only need their kinks spread out. Saturating units (sigmoid, tanh) also need a slope, which sets
# how sharp a feature each one can draw.
_HOMOGENEOUS = ("relu", "leaky_relu", "elu", "gelu", "silu", "identity")


def hidden_init(params, key, activation: str):
    """Spreads the hidden units over [-1, 1]: unit i is act(a_i (x - c_i)), c_i ~ U(-1, 1).

    Flax's default init (lecun_normal kernel, zero bias) centres every unit at x = 0 with slope ~1:
    all sigmoids start as the same blurry step and Adam must pull them apart. Measured at the default
    flags, that init stops the max error falling past width 16 (0.015, 0.008, 0.007, 0.014, 0.006 at
    widths 8, 16, 32, 64, 128), which hides the very trend under study. Here the slope |a_i| grows
    with the width, 10 (1 + width/32) times U(0.5, 1.5), so that a wider net starts with sharper units
    that overlap less; random signs give both rising and falling steps.
    """
    hidden = params["hidden_0"]
    width = hidden["kernel"].shape[-1]
    k_centre, k_slope, k_sign = jax.random.split(key, 3)
    centre = jax.random.uniform(k_centre, (width,), minval=-1.0, maxval=1.0)
    sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, (width,)), 1.0, -1.0)
    scale = 1.0 if activation in _HOMOGENEOUS else 10.0 * (1.0 + width / 32)
    slope = sign * scale * jax.random.uniform(k_slope, (width,), minval=0.5, maxval=1.5)
    new_hidden = {"kernel": slope[None, :].astype(hidden["kernel"].dtype),
                  "bias": (-slope * centre).astype(hidden["bias"].dtype)}
    return {**params, "hidden_0": new_hidden}


def fit_width(width: int, x_train, y_train, *, activation="sigmoid", steps=30_000, learning_rate=1e-2,
              schedule="cosine", restarts=4, seed=0):
    """Trains `restarts` copies of a width-`width` shallow net full-batch with Adam, all at once (vmap).

    Returns (model, params of the copy with the lowest training MSE, its MSE curve, that MSE). The
    copy is chosen on the training points only; the dense evaluation grid plays no part in it.
    """
    model = models.get("shallow_mlp", width=width, activation=activation)
    task = tasks.get("regression")
    opt_cfg = ml_collections.ConfigDict({"name": "adam", "learning_rate": learning_rate,
                                         "schedule": schedule})
    tx, _ = optim.create(opt_cfg, steps)
    batch = {"input": x_train, "target": y_train}

    # One vmapped library step trains every restart; the whole run is one scan inside one jit, so
    # Python dispatches once instead of `steps` times (a step of a 128-unit net is ~50 us of work).
    # Initialisation is jitted too: run eagerly it compiles dozens of tiny ops, seconds per width.
    train_step = jax.vmap(make_train_step(model, task, tx, seed=seed), in_axes=(0, None))
    eval_step = jax.vmap(make_eval_step(model, task), in_axes=(0, None))

    def init(restart_seed):
        state = create_train_state(model, tx, x_train, seed=restart_seed)
        params = hidden_init(state.params, jax.random.fold_in(jax.random.key(restart_seed), 1), activation)
        return state.replace(params=params, opt_state=tx.init(params))

    @jax.jit
    def train(seeds):
        def one_step(states, _):
            states, metrics = train_step(states, batch)
            total, count = metrics["mse"]
            return states, total / count
        states, curves = jax.lax.scan(one_step, jax.vmap(init)(seeds), None, length=steps)
        total, count = eval_step(states, {**batch, "mask": jnp.ones(len(x_train))})["mse"]
        return states, curves, total / count

    states, curves, train_mse = train(seed + jnp.arange(restarts))
    train_mse = np.asarray(train_mse)
    best = int(np.argmin(train_mse))
    params = jax.tree.map(lambda p: p[best], states.params)
    return model, params, np.asarray(curves[:, best]), float(train_mse[best])


RBF_PASSES = 30   # Lloyd steps of k-means for the RBF network's centres


def fit_rbf(num_centres: int, x_train, y_train, *, passes: int = RBF_PASSES, seed: int = 0):
    """An RBF network of `num_centres` Gaussians fitted by the shared fit: k-means centres (k-means++ start,
    `passes` Lloyd steps) with widths by the 2-nearest-centres rule, then the least-squares readout.
    Returns (model, variables)."""
    model = models.get("rbf_network", num_centres=num_centres, num_outputs=y_train.shape[-1])
    variables = model.init(jax.random.key(seed), x_train[:1])
    variables["params"]["basis"]["centres"] = jnp.asarray(initial_centres(x_train, num_centres, seed))
    source = data.ArraySource({"input": x_train, "target": y_train})
    batches = lambda: data.eval_batches(source, global_batch_size=len(x_train))
    variables = fit.fit(model, KMeans(width_rule="nearest", width_neighbours=2), variables, batches, passes=passes)
    return model, fit.fit(model, LeastSquares(), variables, batches)


def run(output_dir, *, function="wave", activation="sigmoid", widths=DEFAULT_WIDTHS, steps=30_000,
        learning_rate=1e-2, schedule="cosine", restarts=4, num_train=256, num_eval=2001, seed=0, rbf=True):
    """Fits every width (and, with `rbf`, an RBF network of as many units), writes fits.png, results.md and
    results.csv to `output_dir`; returns the rows."""
    if function not in FUNCTIONS:
        raise KeyError(f"unknown function {function!r}; known: {', '.join(sorted(FUNCTIONS))}")
    f, label = FUNCTIONS[function]
    began = time.perf_counter()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    x_train = np.linspace(-1.0, 1.0, num_train, dtype=np.float32)[:, None]
    y_train = f(x_train).astype(np.float32)
    x_eval = np.linspace(-1.0, 1.0, num_eval)[:, None]
    y_eval = f(x_eval)

    rows, fits = [], []
    for width in widths:
        start = time.perf_counter()
        model, params, curve, train_mse = fit_width(
            width, x_train, y_train, activation=activation, steps=steps, learning_rate=learning_rate,
            schedule=schedule, restarts=restarts, seed=seed)
        pred = jax.jit(model.apply)({"params": params}, x_eval.astype(np.float32))
        pred = np.asarray(pred, np.float64)
        err = np.abs(pred - y_eval)[:, 0]
        rows.append({"width": width,
                     "params": sum(int(p.size) for p in jax.tree.leaves(params)),
                     "max_abs_error": float(err.max()),
                     "argmax_x": float(x_eval[err.argmax(), 0]),
                     "rmse": float(np.sqrt(np.mean(err**2))),
                     "train_rmse": float(np.sqrt(train_mse))})
        rbf_pred = None
        if rbf:
            rbf_model, rbf_variables = fit_rbf(width, x_train, y_train, seed=seed)
            rbf_pred = np.asarray(jax.jit(rbf_model.apply)(rbf_variables, x_eval.astype(np.float32)), np.float64)[:, 0]
            rbf_err = np.abs(rbf_pred - y_eval[:, 0])
            rows[-1].update({"rbf_params": sum(int(p.size) for p in jax.tree.leaves(rbf_variables["params"])),
                             "rbf_max_abs_error": float(rbf_err.max()),
                             "rbf_rmse": float(np.sqrt(np.mean(rbf_err**2)))})
        fits.append((pred[:, 0], err, curve, rbf_pred))
        logging.info("width %4d: max|err| %.2e at x=%+.3f  rmse %.2e  train rmse %.2e  (%.1f s)",
                     width, rows[-1]["max_abs_error"], rows[-1]["argmax_x"], rows[-1]["rmse"],
                     rows[-1]["train_rmse"], time.perf_counter() - start)

    chosen = f"best of {restarts} restarts by training MSE" if restarts > 1 else "one run"
    setup = (f"{activation} hidden units, Adam {learning_rate:g} with a {schedule} schedule, "
             f"{steps:,} full-batch steps on {num_train} evenly spaced points, {chosen}; "
             f"errors measured on {num_eval:,} evenly spaced points")
    _write_csv(output_dir / "results.csv", rows)
    _write_markdown(output_dir / "results.md", rows, function, label, setup, rbf, time.perf_counter() - began)
    _plot(output_dir / "fits.png", rows, fits, x_eval[:, 0], y_eval[:, 0], label, activation, setup)
    return rows


def trend_sentence(rows, key: str = "max_abs_error") -> str:
    """One sentence, computed from the numbers, on whether the max error (rows[i][key]) fell as the width grew."""
    rows = [{"width": r["width"], "max_abs_error": r[key]} for r in rows]
    errors = [r["max_abs_error"] for r in rows]
    first, last = rows[0], rows[-1]
    span = (f"from {errors[0]:.3g} at width {first['width']} to {errors[-1]:.3g} at width "
            f"{last['width']} ({errors[0] / errors[-1]:.0f}x smaller)")
    rises = [f"{a['width']} to {b['width']}" for a, b in zip(rows, rows[1:])
             if b["max_abs_error"] >= a["max_abs_error"]]
    if errors[-1] >= errors[0]:
        return f"The max |error| did not fall with the width: {errors[0]:.3g} at width " \
               f"{first['width']}, {errors[-1]:.3g} at width {last['width']}."
    if not rises:
        return f"The max |error| fell at every step up in width, {span}."
    return f"The max |error| fell overall, {span}, but not at every step: not from width " \
           f"{', '.join(rises)}."


def _write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})


def _write_markdown(path, rows, function, label, setup, rbf=False, seconds=None):
    lines = [f"# Universal approximation: `{function}`, f(x) = {label} on [-1, 1]", "",
             f"One hidden layer ({setup}).", "",
             "| width (hidden units) | params | max \\|error\\| | at x | RMSE | train RMSE |"
             + (" RBF params | RBF max \\|error\\| | RBF RMSE |" if rbf else ""),
             "|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if rbf else "")]
    for r in rows:
        lines.append(f"| {r['width']} | {r['params']} | {r['max_abs_error']:.2e} | {r['argmax_x']:+.3f} "
                     f"| {r['rmse']:.2e} | {r['train_rmse']:.2e} |"
                     + (f" {r['rbf_params']} | {r['rbf_max_abs_error']:.2e} | {r['rbf_rmse']:.2e} |" if rbf else ""))
    lines += ["", trend_sentence(rows), ""]
    if rbf:
        lines += ["RBF network (Broomhead & Lowe 1988) with as many Gaussian units as the width, fitted in closed "
                  "form by the shared fit: centres by k-means (k-means++ start, "
                  f"{RBF_PASSES} Lloyd steps on the training points), each unit's width the root mean square "
                  "distance to its 2 nearest centres (Moody & Darken 1989), the readout by least squares (the "
                  "pseudo-inverse of the normal equations). For the RBF network: "
                  + trend_sentence(rows, "rbf_max_abs_error").replace("The max", "the max")
                  + f" Its max |error| was below the trained {setup.split(' hidden')[0]} network's at "
                  f"{sum(r['rbf_max_abs_error'] < r['max_abs_error'] for r in rows)} of {len(rows)} widths: "
                  "least squares is exact for its features, but fixed Gaussians placed by k-means use their "
                  "units less well than gradient descent uses the sigmoids.", ""]
    if seconds is not None:
        lines += [f"Run time {seconds:.0f} s on 2 CPU cores.", ""]
    path.write_text("\n".join(lines))


def _plot(path, rows, fits, x, y, label, activation, setup):
    n = len(rows)
    cols = min(n, 4)
    fit_rows = -(-n // cols)
    fig = plt.figure(figsize=(4.2 * cols, 3.6 * fit_rows + 4.0), layout="constrained")
    # Each fit gets a strip below it with its signed error on its own scale: from width ~8 on the fit
    # and the target coincide to the eye, and the strip shows where the remaining error sits.
    grid = fig.add_gridspec(2 * fit_rows + 1, cols, height_ratios=[1, 0.45] * fit_rows + [1.5])
    pad = 0.1 * (y.max() - y.min())

    for i, (row, (pred, err, _, rbf_pred)) in enumerate(zip(rows, fits)):
        r, c = 2 * (i // cols), i % cols
        ax = fig.add_subplot(grid[r, c])
        ax.plot(x, y, color="0.15", lw=2.6, label="target")
        ax.plot(x, pred, color="tab:red", lw=1.4, label="network")
        if rbf_pred is not None:
            ax.plot(x, rbf_pred, color="tab:green", lw=1.0, ls="--", label="RBF network")
        worst = int(err.argmax())
        ax.plot([x[worst]] * 2, [y[worst], pred[worst]], color="tab:orange", lw=2.5,
                label="max |error|", solid_capstyle="butt")
        ax.set_ylim(y.min() - pad, y.max() + pad)
        rbf_note = f" (RBF {row['rbf_max_abs_error']:.2g})" if rbf_pred is not None else ""
        ax.set_title(f"width {row['width']}:  max |error| {row['max_abs_error']:.2g}{rbf_note}", fontsize=11)
        ax.tick_params(labelsize=8, labelbottom=False)
        if i == 0:
            ax.legend(fontsize=8, loc="best")

        strip = fig.add_subplot(grid[r + 1, c], sharex=ax)
        strip.axhline(0.0, color="0.6", lw=0.8)
        strip.plot(x, pred - y, color="tab:red", lw=0.9)
        strip.plot(x[worst], pred[worst] - y[worst], "o", color="tab:orange", ms=5)
        strip.set_ylim(-1.2 * err.max(), 1.2 * err.max())
        strip.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        strip.tick_params(labelsize=8)
        strip.yaxis.get_offset_text().set_fontsize(8)
        if c == 0:
            strip.set_ylabel("error", fontsize=9)

    bottom = grid[2 * fit_rows, :].subgridspec(1, 2)
    widths = [r["width"] for r in rows]
    ax = fig.add_subplot(bottom[0, 0])
    ax.loglog(widths, [r["max_abs_error"] for r in rows], "o-", color="tab:red", lw=2, ms=7,
              label=f"{activation} network: max |error|")
    ax.loglog(widths, [r["rmse"] for r in rows], "s--", color="tab:blue", lw=1.5, label=f"{activation} network: RMSE")
    if "rbf_max_abs_error" in rows[0]:
        ax.loglog(widths, [r["rbf_max_abs_error"] for r in rows], "^-", color="tab:green", lw=1.5, ms=6,
                  label="RBF network (k-means + least squares): max |error|")
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.set_xlabel("width (hidden units)")
    ax.set_ylabel("error on the dense grid")
    ax.set_title("error vs width (log-log)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=10)

    ax = fig.add_subplot(bottom[0, 1])
    colors = plt.cm.viridis(np.linspace(0.0, 0.9, n))
    for row, (_, _, curve, _), color in zip(rows, fits, colors):
        keep = np.unique(np.geomspace(1, len(curve), 400).astype(int))  # log-spaced steps suffice
        ax.loglog(keep, curve[keep - 1], color=color, lw=1.1, label=f"{row['width']}")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE on the training points")
    ax.set_title("training curves (the chosen restart)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="width", fontsize=8, title_fontsize=9, ncol=2, loc="lower left")

    beside = "; green dashed: an RBF network of as many Gaussian units" if fits[0][3] is not None else ""
    fig.suptitle(f"One hidden layer of {activation} units fitting f(x) = {label} on [-1, 1]{beside}\n"
                 + textwrap.fill(f"({setup})", width=42 * cols), fontsize=12)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _define_flags():
    flags.DEFINE_enum("function", "wave", sorted(FUNCTIONS), "The continuous function to fit.")
    flags.DEFINE_string("activation", "sigmoid", "Hidden activation: sigmoid (Cybenko 1989), relu, tanh, ...")
    flags.DEFINE_list("widths", [str(w) for w in DEFAULT_WIDTHS], "Hidden widths to try.")
    flags.DEFINE_integer("steps", 30_000, "Full-batch Adam steps per width.")
    flags.DEFINE_float("learning_rate", 1e-2, "Adam peak learning rate.")
    flags.DEFINE_enum("schedule", "cosine", ["cosine", "constant"], "Learning-rate schedule.")
    flags.DEFINE_integer("restarts", 4, "Random restarts per width (vmapped); the lowest training MSE wins.")
    flags.DEFINE_integer("num_train", 256, "Evenly spaced training points on [-1, 1].")
    flags.DEFINE_integer("num_eval", 2001, "Evenly spaced evaluation points on [-1, 1].")
    flags.DEFINE_integer("seed", 0, "Seed of the first restart; restart r uses seed + r.")
    flags.DEFINE_bool("rbf", True, "Fit an RBF network of each width beside the MLP (k-means + least squares).")
    report.define_flags()


# Flags that make another experiment than the committed reference (--update_results refuses them).
FIXED = ("function", "activation", "widths", "steps", "learning_rate", "schedule", "restarts", "num_train",
         "num_eval", "seed", "rbf")


def main(argv):
    del argv
    f = flags.FLAGS
    start, output_dir = time.perf_counter(), report.output_dir(__file__, fixed=FIXED)
    rows = run(output_dir, function=f.function, activation=f.activation,
               widths=[int(w) for w in f.widths], steps=f.steps, learning_rate=f.learning_rate,
               schedule=f.schedule, restarts=f.restarts, num_train=f.num_train, num_eval=f.num_eval,
               seed=f.seed, rbf=f.rbf)
    logging.info("%s", trend_sentence(rows))
    logging.info("wrote %s in %.0f s", output_dir, time.perf_counter() - start)


if __name__ == "__main__":
    # Flags exist only when this file runs as a script, so importing run() (as the test does) cannot
    # collide with flags of the same name defined by other modules.
    _define_flags()
    cli.run(main)

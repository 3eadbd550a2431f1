"""Echo state networks predicting the chaotic Mackey-Glass series (tau = 17) free-running: the error 84 steps
ahead against the reservoir's size (Jaeger & Haas 2004).

Jaeger and Haas trained a 1,000-unit reservoir (1% connectivity) on 3,000 steps of the series, teacher
forced (the true value in, the next value out), solved only the readout, then let the network run
closed-loop (its prediction as its next input) and measured the normalised error 84 steps ahead,
NRMSE84 = sqrt(mean (y_hat - y)^2 / var(y)) over 100 starts: about 10^-4.2 (Science 304, 2004, with the
series shifted and squashed, tanh(x - 1), as here). Here, with the registry's `esn` and the shared fit
(ridge least squares with a washout, no gradient descent), for each size N:
  1. the series (tanh(x(t) - 1), one sample per time unit) from deepzoo/data/series.py;
  2. the readout fitted teacher-forced on 3,000 steps, the first --washout left out, the ridge chosen from
     RIDGES on a validation stretch (closed-loop NRMSE84 from 20 starts after the training data);
  3. NRMSE84 on --starts later starts, each read teacher-forced for --washout steps, then 84 steps free;
repeated for --seeds reservoirs (median and range reported).

    python experiments/esn.py            # sizes 50 to 1,000, 3 reservoirs each; ~3 min on 2 CPU cores

Writes results.md, results.csv and esn.png (NRMSE84 against N beside the published figure; a prediction of
the largest reservoir) to --output_dir (default runs/esn; --update_results: experiments/esn/).
"""
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
from absl import app, flags, logging

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, data, models, report  # noqa: E402
from deepzoo.data.series import mackey_glass  # noqa: E402
from deepzoo.tasks.least_squares import LeastSquares  # noqa: E402
from deepzoo.train import fit  # noqa: E402

HORIZON = 84                        # Jaeger & Haas's prediction horizon
TRAIN = 3000                        # teacher-forced training steps
PUBLISHED = 10 ** -4.2              # Jaeger & Haas 2004: NRMSE84 of their 1,000-unit network
RIDGES = (1e-14, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4)
RESERVOIR = dict(spectral_radius=0.8, input_scale=1.0, bias_scale=0.2, leak_rate=1.0)
CONNECTIONS = 10                    # per unit on average: Jaeger & Haas's 1% of 1,000, at every size

FLAGS = flags.FLAGS
flags.DEFINE_list("sizes", ["50", "100", "200", "500", "1000"], "Reservoir sizes N.")
flags.DEFINE_integer("seeds", 3, "Reservoirs (random draws) per size.")
flags.DEFINE_integer("starts", 50, "Test starts averaged into NRMSE84.")
flags.DEFINE_integer("washout", 500, "Teacher-forced steps before the readout is fitted or a prediction starts.")
report.define_flags()


def series(length: int) -> np.ndarray:
    return np.tanh(mackey_glass(length) - 1.0).astype(np.float32)


def nrmse_at_horizon(model, variables, y, starts, washout: int):
    """sqrt(mean over starts of (prediction - truth)^2 at HORIZON steps ahead / var(y)), and the predictions
    (len(starts), HORIZON)."""
    warm = np.stack([y[s - washout:s] for s in starts])[..., None]                       # (S, washout, 1)
    truth = np.stack([y[s:s + HORIZON] for s in starts])                                  # (S, 84)
    predicted = np.asarray(jax.jit(lambda v, u: model.apply(v, u, HORIZON, method="generate"))(variables, warm))[..., 0]
    return float(np.sqrt(np.mean((predicted[:, -1] - truth[:, -1]) ** 2) / np.var(y))), predicted


def fit_readout(model, variables, y, washout: int, ridge: float):
    """The readout solved teacher-forced on y[0:TRAIN] (next-step targets), the first `washout` left out."""
    arrays = {"input": y[None, :TRAIN, None], "target": y[None, 1:TRAIN + 1, None]}
    batches = lambda: data.eval_batches(data.ArraySource(arrays), global_batch_size=1)
    return fit.fit(model, LeastSquares(ridge=ridge, washout=washout, float64=True), variables, batches)


def run_size(size: int, seed: int, y, validation, test, washout: int):
    model = models.get("esn", reservoir_size=size, connectivity=min(1.0, CONNECTIONS / size), **RESERVOIR)
    variables = model.init(jax.random.key(seed), jnp.zeros((1, 2, 1)))
    scores = {}
    for ridge in RIDGES:
        fitted = fit_readout(model, variables, y, washout, ridge)
        scores[ridge] = nrmse_at_horizon(model, fitted, y, validation, washout)[0]
    ridge = min(scores, key=lambda r: scores[r] if np.isfinite(scores[r]) else np.inf)
    fitted = fit_readout(model, variables, y, washout, ridge)
    error, predicted = nrmse_at_horizon(model, fitted, y, test, washout)
    return error, ridge, fitted, model, predicted


def plot(rows, example, path: Path):
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw=dict(width_ratios=[1, 1.4]))
    sizes = sorted({r["size"] for r in rows})
    median = [np.median([r["nrmse84"] for r in rows if r["size"] == n]) for n in sizes]
    for r in rows:
        left.loglog(r["size"], r["nrmse84"], "o", color="tab:blue", alpha=0.4, markersize=4)
    left.loglog(sizes, median, "-", color="tab:blue", label="ours: median of the reservoirs (dots: each)")
    left.loglog([1000], [PUBLISHED], "*", color="tab:red", markersize=12, label="Jaeger & Haas 2004: 10^-4.2")
    left.set(xlabel="reservoir units N (log scale)", ylabel="NRMSE 84 steps ahead (log scale)",
             title="Mackey-Glass (tau = 17), free-running")
    left.set_xticks(sizes, [str(n) for n in sizes])
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=8)
    y, start, predicted, size = example
    t = np.arange(-100, HORIZON)
    right.plot(t, y[start - 100:start + HORIZON], color="k", lw=1.2, label="the series")
    right.plot(np.arange(HORIZON), predicted, "--", color="tab:orange", lw=1.5, label=f"N = {size}, free-running")
    right.axvline(0, color="0.5", lw=0.8)
    right.set(xlabel="time units from the prediction's start", ylabel="tanh(x - 1)",
              title="teacher-forced before 0, the network's own output after")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


FIXED = ("sizes", "seeds", "starts", "washout")


def main(argv):
    del argv
    sizes = [int(n) for n in FLAGS.sizes]
    if min(sizes) < 1 or FLAGS.seeds < 1 or FLAGS.starts < 1 or not 0 < FLAGS.washout < TRAIN:
        raise app.UsageError(f"--sizes, --seeds and --starts must be >= 1 and --washout in (0, {TRAIN}).")
    out = report.output_dir(__file__, fixed=FIXED)
    # Training on [0, 3000]; validation starts in the next stretch, test starts after it; 84 steps each.
    gap = HORIZON + 16
    validation = TRAIN + FLAGS.washout + gap * np.arange(20)
    test = validation[-1] + gap + gap * np.arange(FLAGS.starts)
    y = series(int(test[-1]) + HORIZON + 1)
    rows, example = [], None
    for size in sizes:
        for seed in range(FLAGS.seeds):
            error, ridge, _, _, predicted = run_size(size, seed, y, validation, test, FLAGS.washout)
            rows.append({"size": size, "seed": seed, "ridge": ridge, "nrmse84": error})
            logging.info("N = %d, reservoir %d: NRMSE84 %.2e (ridge %g)", size, seed, error, ridge)
            if size == max(sizes) and seed == 0:
                example = (y, int(test[0]), predicted[0], size)
    report.write_rows(out / "results.csv", [{k: f"{v:.6g}" if isinstance(v, float) else v for k, v in r.items()}
                                            for r in rows])
    plot(rows, example, out / "esn.png")
    table = []
    for size in sizes:
        mine = [r for r in rows if r["size"] == size]
        errors = [r["nrmse84"] for r in mine]
        table.append({"reservoir N": size, "NRMSE84, median": f"{np.median(errors):.2e}",
                      "range over reservoirs": f"{min(errors):.1e} - {max(errors):.1e}",
                      "log10 (median)": f"{np.log10(np.median(errors)):.2f}",
                      "ridges chosen": ", ".join(f"{r['ridge']:g}" for r in mine)})
    lines = ["# Echo state networks on the Mackey-Glass series: error 84 steps ahead against reservoir size", "",
             f"Regenerate with `python experiments/esn.py --update_results`. The series tanh(x(t) - 1), tau = 17, "
             f"one sample per time unit. Reservoir: {CONNECTIONS} nonzero weights U(-1, 1) per unit on average (1% at "
             f"N = 1,000, as theirs), spectral "
             f"radius {RESERVOIR['spectral_radius']}, inputs U(-1, 1), biases U(-0.2, 0.2), tanh units; the readout "
             f"on [state, input] by ridge least squares on {TRAIN:,} teacher-forced steps ({FLAGS.washout} left out), "
             f"the ridge chosen on 20 validation starts; NRMSE84 over {FLAGS.starts} test starts, each read "
             f"teacher-forced for {FLAGS.washout} steps, then {HORIZON} free-running; {FLAGS.seeds} reservoirs per "
             f"size. Jaeger & Haas (2004) report NRMSE84 = 10^-4.2 for N = 1,000 (their readout trained with noise "
             f"in the states, averaged over 100 starts).", "",
             *report.markdown_table(table), ""]
    medians = {n: np.median([r["nrmse84"] for r in rows if r["size"] == n]) for n in sizes}
    lines += [f"The error falls {medians[sizes[0]] / medians[sizes[-1]]:,.0f}-fold from N = {sizes[0]} to N = "
              f"{sizes[-1]}" + (f"; at N = 1,000 the median is {medians[1000] / PUBLISHED:.0f} times the published "
                                f"10^-4.2." if 1000 in medians else "."), "",
              "![NRMSE84 against N, and a free-running prediction](esn.png)", ""]
    (out / "results.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    cli.run(main)

"""Vanishing and exploding gradients in recurrent nets, and gradient clipping.

"Vanilla RNN Gradient Flow" (Stanford CS231n 2017, Lecture 10): with h_t = tanh(x_t Wx + h_{t-1} Wh + b), a loss L_T
on the last step reaches h_t through T - t Jacobians dh_s/dh_{s-1} = diag(tanh'(.)) Wh^T, so ||dL_T/dh_t|| shrinks
geometrically when the largest singular value of Wh is below 1 (tanh' <= 1 only shrinks it further) and
can grow when it is above 1. An LSTM's cell adds instead of multiplying, c_t = f_t c_{t-1} + i_t g_t, so
dc_t/dc_{t-1} = diag(f_t): an open forget gate (f near 1) carries the gradient back almost untouched.
Clipping the gradient by its global norm (Pascanu et al. 2013) keeps one exploding gradient from throwing
the weights away.

Part 1 measures ||dL_T/dh_t|| (and ||dL_T/dc_t|| for the LSTM) for t = 1..T, exactly, with jax.grad, for
tanh RNNs with Wh = a Q (Q orthogonal, so every singular value is a) and LSTMs with several forget biases.
Part 2 trains the exploding RNN (a = 1.5) to remember the sign of its first input for T steps, with plain
SGD and with SGD after optax.clip_by_global_norm, from the same seeds.

    python experiments/vanishing_gradients.py                 # about 40 s on 2 CPU cores
    python experiments/vanishing_gradients.py --quick --output_dir=/tmp/vg    # a few seconds, tiny sizes

Writes gradient_flow.png, results.md, results.csv (one row per network) and gradient_norms.csv (the
curves) to --output_dir (default runs/vanishing_gradients; --update_results: experiments/vanishing_gradients/).
"""
import csv
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from absl import flags, logging

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, report  # noqa: E402
from deepzoo.layers.recurrent import LSTMCell, SimpleRNNCell  # noqa: E402

KINDS = ("rnn", "linear", "lstm")
DEFAULT_SCALES = (0.9, 1.0, 1.5, 2.0)      # a in Wh = a Q for the tanh RNN
DEFAULT_FORGET_BIASES = (0.0, 1.0, 3.0)    # added to the LSTM's forget-gate pre-activation
# The sizes that --quick runs (and the test): every part of the pipeline, in a few seconds.
QUICK = dict(length=20, features=16, input_features=4, batch=8, train_length=20, train_steps=20, seeds=2)


def _identity(z):
    return z


def init_network(kind: str, value: float, features: int, input_features: int, seed: int = 0):
    """A cell and its parameters: ("rnn", a) a tanh RNN with Wh = a Q, ("linear", a) the same without the
    tanh, ("lstm", b) an LSTM with forget-gate bias b. Q is Flax's orthogonal initialiser, so all singular
    values of a Q equal a, and so does its spectral radius.

    The LSTM's b goes into the forget block of its bias parameter: the same sum a_f + b that LSTMCell's
    forget_bias field makes, but every LSTM is then one cell, and shares one compiled gradient.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown network kind {kind!r}; known: {', '.join(KINDS)}")
    if kind == "lstm":
        cell = LSTMCell(features)
    else:
        cell = SimpleRNNCell(features, activation=jnp.tanh if kind == "rnn" else _identity)
    # Not jitted: eager init reuses its compiled ops from one network to the next, jit would recompile.
    params = cell.init(jax.random.key(seed), cell.zero_carry(1), jnp.zeros((1, input_features)))["params"]
    if kind == "lstm":   # gate blocks [i, f, o, g]
        return cell, {**params, "b": params["b"].at[features:2 * features].add(value)}
    return cell, {**params, "Wh": value * params["Wh"]}


def _hidden(carry):
    """The hidden state h of a carry: h itself (RNN, GRU) or the second half of (c, h) (LSTM)."""
    return carry[1] if isinstance(carry, tuple) else carry


def state_gradients(cell, params, x, readout):
    """dL_T/d carry_t for t = 1..T, exactly, with L_T = sum over the batch of <readout, h_T>.

    x (batch, T, D); readout (H,). Returns the carry's structure with arrays (batch, T, H): h for an RNN,
    (c, h) for an LSTM, where entry t - 1 is the gradient w.r.t. the carry after step t.

    The trick: add a perturbation e_t, zero, to the carry after every step, carry_t = cell(carry_{t-1},
    x_t) + e_t. Everything after step t sees e_t only through carry_t, and d carry_t / d e_t = I, so
    dL_T/d e_t is dL_T/d carry_t, summed over every path through the later steps. One jax.grad w.r.t. the
    stacked e (T, batch, H) returns all T of them from a single reverse scan, the same BPTT pass that
    training runs. For the LSTM, e_t on c_t is added after h_t = o tanh(c_t) was computed, so dL_T/dc_t is
    the gradient that flows back along the cell path (through step t + 1 onwards), as in CS231n's
    lstm_step_backward. Samples are independent and L_T sums over them, so row b is sample b's own gradient.
    A linear readout makes dL_T/dh_T = readout: the curves start at ||readout|| and only the Jacobians shape
    them; any other loss on h_T changes that first factor only.
    """
    if x.ndim != 3:
        raise ValueError(f"state_gradients expects x of shape (batch, time, features); got {tuple(x.shape)}.")
    if readout.shape != (cell.features,):
        raise ValueError(f"readout must have shape (H,) = ({cell.features},) to read h_T of the cell; "
                         f"got {tuple(readout.shape)}.")
    return _state_gradients(cell, params, x, readout)


@jax.jit(static_argnums=0)   # cells are hashable dataclasses: one compile per cell and shape
def _state_gradients(cell, params, x, readout):
    batch, length = x.shape[:2]
    carry0 = cell.zero_carry(batch)
    zeros = jax.tree.map(lambda a: jnp.zeros((length,) + a.shape, a.dtype), carry0)

    def loss(perturbations):
        def step(carry, inputs):
            x_t, e_t = inputs
            carry, _ = cell.apply({"params": params}, carry, x_t)
            return jax.tree.map(jnp.add, carry, e_t), None
        carry, _ = jax.lax.scan(step, carry0, (jnp.swapaxes(x, 0, 1), perturbations))
        return jnp.sum(_hidden(carry) @ readout)

    return jax.tree.map(lambda g: jnp.swapaxes(g, 0, 1), jax.grad(loss)(zeros))


def measure(kind, value, *, length=100, features=64, input_features=8, batch=64, input_scale=0.25, seed=0):
    """Per-sample gradient norms (batch, T) of one network on random inputs: {"h": ||dL_T/dh_t||, and for
    the LSTM "c": ||dL_T/dc_t||}, with a unit-norm readout, so ||dL_T/dh_T|| = 1 for every sample.

    Inputs are N(0, input_scale^2) over input_features and Wx is lecun_normal (variance 1 / D), so each
    unit's input drive x_t Wx has standard deviation about input_scale: small enough that the tanh is not
    saturated by the input alone, so the recurrent weights decide the fate of the gradient.
    """
    cell, params = init_network(kind, value, features, input_features, seed)
    k_x, k_v = jax.random.split(jax.random.key(seed + 1))
    x = input_scale * jax.random.normal(k_x, (batch, length, input_features))
    readout = jax.random.normal(k_v, (features,))
    grads = state_gradients(cell, params, x, readout / jnp.linalg.norm(readout))
    norms = lambda g: np.asarray(jnp.linalg.norm(g, axis=-1), np.float64)
    if kind == "lstm":
        return {"c": norms(grads[0]), "h": norms(grads[1])}
    return {"h": norms(grads), "sigma_max": float(np.linalg.svd(np.asarray(params["Wh"]), compute_uv=False)[0])}


def _sign_batch(key, batch, length, noise):
    """The long-range task: the first input is a random sign s = +-1, the other T - 1 are N(0, noise^2)
    distractors; the target is whether s > 0, to be read from h_T."""
    k_sign, k_noise = jax.random.split(key)
    sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, (batch,)), 1.0, -1.0)
    x = noise * jax.random.normal(k_noise, (batch, length, 1))
    return x.at[:, 0, 0].set(sign), (sign > 0).astype(jnp.float32)


def train_sign_memory(*, max_norms=(None, 1.0), scale=1.5, length=100, features=64, batch=64, steps=300,
                      learning_rate=0.1, seeds=4, noise=0.1, seed=0):
    """SGD on the sign-memory task for a tanh RNN with Wh = scale Q, after optax.clip_by_global_norm(m) for
    each m in max_norms (None: no clipping), from the same `seeds` seeds (the same weights and batches).
    Every run trains at once (vmap over max_norms and seeds) inside one jit'd scan over the steps.

    Returns arrays (len(max_norms), seeds, steps): "loss", "accuracy" (on each step's fresh batch, before
    its update) and "grad_norm" (the global norm of the raw gradient, before any clipping); and "sigma_max"
    (len(max_norms), seeds), the largest singular value of Wh after training.
    """
    for m in max_norms:
        if m is not None and not m > 0:
            raise ValueError(f"max_norms must hold positive clipping thresholds or None; got {m}.")
    cell = SimpleRNNCell(features)   # the cell init_network makes
    # None becomes an infinite threshold: clip_by_global_norm(inf) passes every finite gradient through
    # unchanged, so plain SGD is the same program as clipped SGD, and both compile once.
    thresholds = np.array([np.inf if m is None else m for m in max_norms], np.float32)

    def init(run_seed):
        # Outside the jit: initialisers traced under vmap (the orthogonal init's QR) triple the compile time.
        _, p = init_network("rnn", scale, features, 1, seed=run_seed)
        # A random readout, not zeros: with w = 0, dL/dh_T = 0 and the first steps would train w alone,
        # hiding the exploding gradient of Wh that this part is about.
        w = jax.random.normal(jax.random.fold_in(jax.random.key(run_seed), 1), (features,)) / np.sqrt(features)
        return {"cell": p, "w": w, "b": jnp.zeros(())}

    def loss_fn(params, x, y):
        def step(h, x_t):
            h, _ = cell.apply({"params": params["cell"]}, h, x_t)
            return h, None
        h, _ = jax.lax.scan(step, cell.zero_carry(x.shape[0]), jnp.swapaxes(x, 0, 1))
        logit = h @ params["w"] + params["b"]
        accuracy = jnp.mean((logit > 0) == (y > 0))
        return optax.sigmoid_binary_cross_entropy(logit, y).mean(), accuracy

    def train(max_norm, params, key):
        tx = optax.chain(optax.clip_by_global_norm(max_norm), optax.sgd(learning_rate))

        def one_step(carry, key):
            params, opt_state = carry
            x, y = _sign_batch(key, batch, length, noise)
            (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, y)
            updates, opt_state = tx.update(grads, opt_state, params)
            metrics = {"loss": loss, "accuracy": accuracy, "grad_norm": optax.global_norm(grads)}
            return (optax.apply_updates(params, updates), opt_state), metrics

        (params, _), metrics = jax.lax.scan(one_step, (params, tx.init(params)), jax.random.split(key, steps))
        metrics["sigma_max"] = jnp.linalg.svd(params["cell"]["Wh"], compute_uv=False)[0]
        return metrics

    run_seeds = [seed + i for i in range(seeds)]
    params = jax.tree.map(lambda *p: jnp.stack(p), *[init(s) for s in run_seeds])
    data_keys = jnp.stack([jax.random.fold_in(jax.random.key(s), 2) for s in run_seeds])
    # One vmap over every (threshold, seed) pair: the seeds' weights and batches repeat for each threshold.
    n = len(max_norms)
    tile = lambda a: jnp.concatenate([a] * n)
    metrics = jax.jit(jax.vmap(train))(jnp.repeat(thresholds, seeds), jax.tree.map(tile, params), tile(data_keys))
    return jax.tree.map(lambda a: np.asarray(a).reshape((n, seeds) + a.shape[1:]), metrics)


def run(output_dir, *, length=100, features=64, input_features=8, batch=64, input_scale=0.25,
        scales=DEFAULT_SCALES, forget_biases=DEFAULT_FORGET_BIASES, train_scale=1.5, train_length=100,
        train_steps=300, learning_rate=0.1, max_norm=1.0, seeds=4, noise=0.1, seed=0):
    """Both parts; writes gradient_flow.png, results.md, results.csv, gradient_norms.csv to output_dir.

    Returns {"networks": one row per network, "curves": {label: (T,) mean norms}, "training": {"sgd": ...,
    "clipped": ...} as train_sign_memory returns them}.
    """
    if length < 2:
        raise ValueError(f"length must be >= 2 to compare the first step with the last; got {length}.")
    if max_norm <= 0:
        raise ValueError(f"max_norm must be positive (the clipping threshold); got {max_norm}.")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    sizes = dict(length=length, features=features, input_features=input_features, batch=batch,
                 input_scale=input_scale, seed=seed)

    rows, curves, bands = [], {}, {}
    specs = [("rnn", a) for a in scales] + [("lstm", b) for b in forget_biases]
    for kind, value in specs:
        start = time.perf_counter()
        norms = measure(kind, value, **sizes)
        name = f"tanh RNN, Wh = {value:g} Q" if kind == "rnn" else f"LSTM, forget bias {value:+g}"
        row = {"network": name, "kind": kind, "value": value,
               "sigma_max": norms.get("sigma_max", float("nan")),
               "ratio_h": float(norms["h"][:, 0].mean()),                       # / ||dL/dh_T|| = 1
               "ratio_c": float(norms["c"][:, 0].mean()) if "c" in norms else float("nan"),
               # Without the tanh the RNN's ratio is exactly a^(T-1); with f_t = sigmoid(b) everywhere and
               # no path through the gates, the LSTM's cell path would give sigmoid(b)^(T-1).
               "reference": value ** (length - 1) if kind == "rnn" else _sigmoid(value) ** (length - 1)}
        # The geometric mean factor per step, from the first step's ratio: ratio = factor ** (T - 1).
        main = row["ratio_c"] if kind == "lstm" else row["ratio_h"]
        row["per_step"] = main ** (1.0 / (length - 1)) if main > 0 else 0.0
        rows.append(row)
        for key, n in norms.items():
            if key in ("h", "c"):
                curves[f"{name}: dL/d{key}"] = n.mean(axis=0)
                bands[f"{name}: dL/d{key}"] = np.percentile(n, [10, 90], axis=0)
        logging.info("%-26s ||dL/dh_1|| = %.3g  ||dL/dc_1|| = %.3g  (%.1f s)", name, row["ratio_h"],
                     row["ratio_c"], time.perf_counter() - start)

    start = time.perf_counter()
    both = train_sign_memory(max_norms=(None, max_norm), scale=train_scale, length=train_length,
                             features=features, batch=batch, steps=train_steps, learning_rate=learning_rate,
                             seeds=seeds, noise=noise, seed=seed)
    training = {setting: jax.tree.map(lambda a: a[i], both) for i, setting in enumerate(("sgd", "clipped"))}
    for setting, m in training.items():
        logging.info("sign memory, %s: final accuracy %s, max raw gradient norm %.3g", setting,
                     np.round(_final(m["accuracy"]), 2), np.nanmax(m["grad_norm"]))
    logging.info("training took %.1f s", time.perf_counter() - start)

    setup = dict(sizes, train_scale=train_scale, train_length=train_length, train_steps=train_steps,
                 learning_rate=learning_rate, max_norm=max_norm, seeds=seeds, noise=noise)
    _write_csv(output_dir / "results.csv", rows)
    _write_curves(output_dir / "gradient_norms.csv", curves)
    _plot(output_dir / "gradient_flow.png", rows, curves, bands, training, setup)
    _write_markdown(output_dir / "results.md", rows, training, setup)
    return {"networks": rows, "curves": curves, "training": training}


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _final(values):
    """Mean over the last tenth of the steps, per seed: what a run ended at, without one batch's noise."""
    return np.nanmean(values[:, -max(1, values.shape[1] // 10):], axis=1)


def _write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})


def _write_curves(path, curves):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["t"] + list(curves))
        for t, values in enumerate(zip(*curves.values()), start=1):
            writer.writerow([t] + [f"{v:.6g}" for v in values])


def _fmt(v):
    if np.isnan(v):
        return "-"
    return "0 (below float32's range)" if v == 0 else f"{v:.3g}"


def _write_markdown(path, rows, training, setup):
    T = setup["length"]
    lines = [
        "# Vanishing and exploding gradients", "",
        "![gradient flow](gradient_flow.png)", "",
        "Figure: `experiments/vanishing_gradients/gradient_flow.png` (written by "
        "`python experiments/vanishing_gradients.py`).", "",
        f"## How far back the gradient of a last-step loss reaches (T = {T})", "",
        f"L_T = <v, h_T> with ||v|| = 1, so ||dL_T/dh_T|| = 1; the ratios below are ||dL_T/dh_1|| and "
        f"||dL_T/dc_1|| (the LSTM's cell), {T - 1} steps back, averaged over {setup['batch']} random input "
        f"sequences (inputs N(0, {setup['input_scale']:g}^2) on {setup['input_features']} features, "
        f"H = {setup['features']} units, zero initial state). All gradients come from one jax.grad "
        "(zero perturbations added to the carry). Per step: the ratio's (T - 1)th root. Reference: the "
        "closed form of the same net without its nonlinearity, a^(T-1) for a linear RNN with Wh = a Q (an upper "
        "bound for the tanh RNN, since tanh' <= 1), and sigmoid(b)^(T-1) for the LSTM's cell path alone with "
        "every forget gate at sigmoid(b) and no path through the gates.", "",
        "| network | largest singular value of Wh | \\|\\|dL/dh_1\\|\\| / \\|\\|dL/dh_T\\|\\| "
        "| \\|\\|dL/dc_1\\|\\| / \\|\\|dL/dh_T\\|\\| | per step | reference |",
        "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['network']} | {_fmt(r['sigma_max'])} | {_fmt(r['ratio_h'])} | {_fmt(r['ratio_c'])} "
                     f"| {r['per_step']:.3f} | {_fmt(r['reference'])} |")
    lines += ["", gradient_sentence(rows)]
    sgd, clipped = training["sgd"], training["clipped"]
    learned = lambda m: int(np.sum(_final(m["accuracy"]) > 0.9))
    n = setup["seeds"]
    lines += [
        "", f"## Clipping (tanh RNN with Wh = {setup['train_scale']:g} Q, remember the first input's sign "
        f"for T = {setup['train_length']} steps)", "",
        f"Plain SGD (learning rate {setup['learning_rate']:g}, batch {setup['batch']}, {setup['train_steps']} "
        f"steps, fresh batches) against the same SGD after `optax.clip_by_global_norm({setup['max_norm']:g})`, "
        f"from the same {n} seeds. Distractor inputs N(0, {setup['noise']:g}^2). Final = mean over the last "
        "tenth of the steps.", "",
        "| optimiser | seeds that learned (final accuracy > 0.9) | final loss (mean over seeds) "
        "| largest raw gradient norm | largest singular value of Wh after training (median) |",
        "|---|---:|---:|---:|---:|"]
    for name, m in (("SGD", sgd), (f"SGD + clip_by_global_norm({setup['max_norm']:g})", clipped)):
        lines.append(f"| {name} | {learned(m)} / {n} | {np.nanmean(_final(m['loss'])):.3g} "
                     f"| {np.nanmax(m['grad_norm']):.3g} | {np.nanmedian(m['sigma_max']):.3g} |")
    lines += ["", "Chance level is a loss of ln 2 = 0.693 and an accuracy of 0.5. "
              + clipping_sentence(training, setup), ""]
    path.write_text("\n".join(lines))


def gradient_sentence(rows) -> str:
    """What part 1 measured, in words computed from the numbers."""
    parts = []
    rnn = [r for r in rows if r["kind"] == "rnn"]
    if rnn:
        below = all(r["ratio_h"] <= r["reference"] * (1 + 1e-4) for r in rnn)
        parts.append("Every tanh RNN kept " + ("less" if below else "NOT always less") + " gradient than the "
                     "linear bound a^(T-1) (tanh' <= 1 can only shrink a Jacobian): per step "
                     + ", ".join(f"{r['per_step']:.3f} for a = {r['value']:g}" for r in rnn) + ".")
    reference = next((r for r in rnn if r["value"] == 1.0), None)
    lstm = [r for r in rows if r["kind"] == "lstm"]
    if lstm and reference is not None and reference["ratio_h"] > 0:
        parts.append("Against the tanh RNN with the same orthogonal Wh (a = 1, ratio "
                     f"{reference['ratio_h']:.3g}), the LSTM's cell kept "
                     + ", ".join(f"{r['ratio_c'] / reference['ratio_h']:.3g}x as much at forget bias {r['value']:+g}"
                                 for r in lstm) + ".")
    return " ".join(parts)


def clipping_sentence(training, setup) -> str:
    """What part 2 measured, in words computed from the numbers."""
    learned = {k: int(np.sum(_final(m["accuracy"]) > 0.9)) for k, m in training.items()}
    sgd = training["sgd"]
    worst = np.unravel_index(np.nanargmax(sgd["grad_norm"]), sgd["grad_norm"].shape)
    text = (f"Plain SGD met a raw gradient of norm {sgd['grad_norm'][worst]:.3g} (seed {worst[0]}, step "
            f"{worst[1] + 1}), a step of length {setup['learning_rate'] * sgd['grad_norm'][worst]:.3g}; "
            f"{learned['sgd']} of {setup['seeds']} plain SGD runs learned the task, and {learned['clipped']} of "
            f"{setup['seeds']} clipped ones, whose every step is at most learning rate x max_norm = "
            f"{setup['learning_rate'] * setup['max_norm']:.3g} long.")
    if learned["clipped"] > learned["sgd"]:
        text += (" A huge gradient is the wall of a cliff in the loss surface (Pascanu et al. 2013), and a step "
                 "in proportion to it jumps far past the region where the gradient meant anything: Wh lands "
                 "far away (its largest singular value after training is in the table), the tanh units "
                 "saturate, h_T no longer carries the first input, and steps of ordinary size cannot bring "
                 "weights that large back. Clipping keeps the direction and bounds the length.")
    return text


def _plot(path, rows, curves, bands, training, setup):
    T = setup["length"]
    t = np.arange(1, T + 1)
    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5), layout="constrained")

    def curve(ax, label, color, style="-", name=None):
        values = np.where(curves[label] > 0, curves[label], np.nan)   # zeros (underflow) leave the log axis
        ax.semilogy(t, values, style, color=color, lw=2, label=name or label)
        low, high = bands[label]
        if style == "-":
            ax.fill_between(t, np.where(low > 0, low, np.nan), np.where(high > 0, high, np.nan),
                            color=color, alpha=0.15, lw=0)

    ax = axes[0, 0]
    rnn_rows = [r for r in rows if r["kind"] == "rnn"]
    colors = plt.cm.plasma(np.linspace(0.05, 0.8, max(1, len(rnn_rows))))
    for r, color in zip(rnn_rows, colors):
        curve(ax, f"{r['network']}: dL/dh", color, name=f"a = {r['value']:g}")
        ax.semilogy(t, r["value"] ** (T - t), ":", color=color, lw=1.3)
    ax.plot([], [], ":", color="0.3", label="linear RNN, closed form $a^{T-t}$")
    ax.set_title("tanh RNN, $W_{hh} = a\\,Q$ (Q orthogonal): $\\|dL_T/dh_t\\|$")
    ax.legend(fontsize=9, loc="upper right")

    ax = axes[0, 1]
    lstm_rows = [r for r in rows if r["kind"] == "lstm"]
    colors = plt.cm.viridis(np.linspace(0.1, 0.85, max(1, len(lstm_rows))))
    for r, color in zip(lstm_rows, colors):
        curve(ax, f"{r['network']}: dL/dc", color, name=f"forget bias {r['value']:+g}: $\\|dL_T/dc_t\\|$")
        curve(ax, f"{r['network']}: dL/dh", color, "--", name=f"forget bias {r['value']:+g}: $\\|dL_T/dh_t\\|$")
    reference = next((r for r in rnn_rows if r["value"] == 1.0), None)
    if reference is not None:
        ax.semilogy(t, curves[f"{reference['network']}: dL/dh"], color="0.6", lw=1.5,
                    label="tanh RNN, a = 1 (same orthogonal init)")
    ax.set_title("LSTM: the cell path $c_t = f_t\\,c_{t-1} + i_t\\,g_t$")
    ax.legend(fontsize=8, loc="lower right")

    for ax in axes[0]:
        ax.set_xlabel(f"t (the loss is on step T = {T} only)")
        ax.set_ylabel("gradient norm (mean, 10-90% band)")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlim(1, T)

    steps = np.arange(1, setup["train_steps"] + 1)
    styles = {"sgd": ("tab:red", "plain SGD"),
              "clipped": ("tab:blue", f"SGD + clip_by_global_norm({setup['max_norm']:g})")}
    ax = axes[1, 0]
    for setting, (color, label) in styles.items():
        for i, g in enumerate(training[setting]["grad_norm"]):
            ax.semilogy(steps, g, color=color, lw=1, alpha=0.7, label=label if i == 0 else None)
    ax.axhline(setup["max_norm"], color="k", ls="--", lw=1, label="clipping threshold: the step clipped SGD takes")
    ax.set_title(f"raw gradient norm $\\|\\nabla_\\theta L\\|$ per step (before clipping), {setup['seeds']} seeds")
    ax.set_ylabel("global norm of the gradient")

    ax = axes[1, 1]
    for setting, (color, label) in styles.items():
        for i, loss in enumerate(training[setting]["loss"]):
            ax.plot(steps, loss, color=color, lw=1, alpha=0.7, label=label if i == 0 else None)
    ax.axhline(np.log(2), color="0.4", ls=":", lw=1.2, label="chance (ln 2)")
    ax.set_yscale("log")
    ax.set_title(f"training loss: remember the first input's sign for {setup['train_length']} steps")
    ax.set_ylabel("logistic loss on the step's batch")
    for ax, loc in zip(axes[1], ("upper right", "lower left")):
        ax.set_xlabel("training step")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=9, loc=loc)

    fig.suptitle(f"Gradient flow back through time (H = {setup['features']}, {setup['batch']} random sequences) "
                 f"and gradient clipping (tanh RNN, $W_{{hh}} = {setup['train_scale']:g}\\,Q$)", fontsize=13)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _define_flags():
    flags.DEFINE_integer("length", 100, "T: steps back from the loss in part 1.")
    flags.DEFINE_integer("features", 64, "Hidden units H of every network.")
    flags.DEFINE_integer("input_features", 8, "Input features D in part 1.")
    flags.DEFINE_integer("batch", 64, "Random sequences averaged over (part 1) and the batch size (part 2).")
    flags.DEFINE_float("input_scale", 0.25, "Standard deviation of part 1's inputs (and of their drive x Wx).")
    flags.DEFINE_list("scales", [f"{a:g}" for a in DEFAULT_SCALES], "a in Wh = a Q for the tanh RNNs.")
    flags.DEFINE_list("forget_biases", [f"{b:g}" for b in DEFAULT_FORGET_BIASES], "LSTM forget-gate biases.")
    flags.DEFINE_float("train_scale", 1.5, "a of the RNN trained in part 2 (> 1: exploding).")
    flags.DEFINE_integer("train_length", 100, "T of the sign-memory task.")
    flags.DEFINE_integer("train_steps", 300, "SGD steps in part 2.")
    flags.DEFINE_float("learning_rate", 0.1, "SGD learning rate in part 2.")
    flags.DEFINE_float("max_norm", 1.0, "Clipping threshold of clip_by_global_norm.")
    flags.DEFINE_integer("seeds", 4, "Training runs per optimiser in part 2 (vmapped).")
    flags.DEFINE_float("noise", 0.1, "Standard deviation of the distractor inputs in part 2.")
    flags.DEFINE_integer("seed", 0, "Seed of the weights and inputs.")
    flags.DEFINE_bool("quick", False, f"Tiny sizes for a smoke test: {QUICK} (overrides those flags).")
    report.define_flags()


# Flags that make another experiment than the committed reference (--update_results refuses them).
FIXED = ("length", "features", "input_features", "batch", "input_scale", "scales", "forget_biases",
         "train_scale", "train_length", "train_steps", "learning_rate", "max_norm", "seeds", "noise", "seed",
         "quick")


def main(argv):
    del argv
    f = flags.FLAGS
    start, output_dir = time.perf_counter(), report.output_dir(__file__, fixed=FIXED)
    kwargs = dict(length=f.length, features=f.features, input_features=f.input_features, batch=f.batch,
                  input_scale=f.input_scale, scales=[float(a) for a in f.scales],
                  forget_biases=[float(b) for b in f.forget_biases], train_scale=f.train_scale,
                  train_length=f.train_length, train_steps=f.train_steps, learning_rate=f.learning_rate,
                  max_norm=f.max_norm, seeds=f.seeds, noise=f.noise, seed=f.seed)
    if f.quick:
        kwargs.update(QUICK)
    run(output_dir, **kwargs)
    logging.info("wrote %s in %.0f s", output_dir, time.perf_counter() - start)


if __name__ == "__main__":
    # Flags exist only when this file runs as a script, so importing it (as the test does) cannot collide
    # with flags of the same name defined by other modules.
    _define_flags()
    cli.run(main)

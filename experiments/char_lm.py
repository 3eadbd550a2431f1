"""Character-level language models on the docstrings of Python's standard library: RNN vs GRU vs LSTM
vs a small GPT, beside the Markov chains they replace (character n-grams of orders 1 to 5).

The "hello" example of Karpathy's "The Unreasonable Effectiveness of Recurrent Neural Networks" (2015) grown up:
each network reads 100 characters at a time and predicts the next; we report bits per character on
held-out modules' docstrings and sample new "documentation" one character at a time, fed back in, at
several temperatures. The n-gram models (deepzoo/models/ngram.py) are counted in one pass over the same
training windows (the shared fit, deepzoo/train/fit.py), their add-k smoothing chosen on validation, and read
the same windows: a window's first characters see padding before them, as the recurrent nets start from zero.

    python experiments/char_lm.py                          # the four networks (RNN ~6 min on 2 CPU cores, GRU
                                                           # ~11, LSTM ~17, GPT ~34) and the five n-grams (~1 min)
    python experiments/char_lm.py --variant=small          # the RNN and GRU for half the steps, and the
                                                           # n-grams (~10 min)
    python experiments/char_lm.py --cells=lstm --temperatures=0.3,1.0
    python experiments/char_lm.py --cells=ngram            # ngram1..ngram5 only

Runs are resumable (ordinary workdirs under --workdir; the n-grams keep no run). Writes results.md/.csv,
curves.csv, samples.md/.csv and bits_per_char.png beside the runs in --workdir (--update_results: into
experiments/char_lm/, the committed reference); a run of some cells replaces their rows and keeps the others.
"""
import functools
import math
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
from deepzoo import cli, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo import data, models, tasks  # noqa: E402
from deepzoo.analysis import complexity  # noqa: E402
from deepzoo.inference import decoding  # noqa: E402
from deepzoo.tasks import metrics as metrics_lib  # noqa: E402
from deepzoo.tasks.counting import Counting  # noqa: E402
from deepzoo.train import fit, trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402
from deepzoo.train.writers import read_metrics  # noqa: E402

NGRAMS = tuple(f"ngram{n}" for n in range(1, 6))          # character n-grams of order n
CELLS = ("rnn", "gru", "lstm", "gpt") + NGRAMS
SMOOTHING = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)     # the n-grams' add-k values, one chosen on validation

SMALL_CELLS = ("rnn", "gru") + NGRAMS                   # --variant=small's default: the two fastest networks

FLAGS = flags.FLAGS
flags.DEFINE_list("cells", None, "Which models to train (or count) and compare; 'ngram' is ngram1..ngram5 "
                  "(default: all, or with --variant=small the RNN, the GRU and the n-grams).")
flags.DEFINE_string("workdir", "runs/char_lm", "Run directories, one per cell (resumable).")
report.define_flags()
flags.DEFINE_string("variant", "", "Config variant appended to each cell, e.g. 'smoke' for tests.")
flags.DEFINE_string("prompt", '"""Return the ', "Text the samples continue.")
flags.DEFINE_list("temperatures", ["0.5", "0.8", "1.0"], "Sampling temperatures (0: greedy).")
flags.DEFINE_integer("sample_length", 300, "Characters sampled per temperature.")
flags.DEFINE_integer("seed", 0, "Sampling seed.")


def bits_per_char(model, variables, source, batch_size: int, evaluate=None) -> float:
    """Mean bits per character over every window of `source` (the task's own metric); `evaluate`: a jitted
    evaluate(variables, batch) of `model` to reuse (one compilation for many variables)."""
    if evaluate is None:
        task = tasks.get("language_model")
        evaluate = jax.jit(lambda v, batch: task.evaluate(model, v["params"], {}, batch))
    total = None
    for batch in data.eval_batches(source, global_batch_size=batch_size, process_index=0, process_count=1):
        m = evaluate(variables, batch)
        total = m if total is None else metrics_lib.add(total, m)
    return metrics_lib.means(jax.device_get(total))["bits_per_token"]


def sample_gpt(model, variables, vocab, prompt: str, temperature: float, length: int, seed: int, window: int) -> str:
    """GPT's continuation of `prompt`, `length` characters. It learned positions 0..window-1 only, so it
    writes in chunks: each reads the last window/2 characters (its cache filled in one pass) and adds
    window/2 more."""
    ids = vocab.encode(prompt)
    chunk = window // 2
    run = jax.jit(functools.partial(decoding.continue_prompt, model, max_new_tokens=chunk, temperature=temperature))
    while len(ids) < len(vocab.encode(prompt)) + length:
        context = jnp.asarray([ids[-chunk:]], jnp.int32)
        ids += np.asarray(run(variables, context, jax.random.fold_in(jax.random.key(seed), len(ids))))[0].tolist()
    return prompt + vocab.decode(ids[len(vocab.encode(prompt)):][:length])


def sample(model, variables, vocab, prompt: str, temperature: float, length: int, seed: int) -> str:
    """Continues `prompt`: reads it, then draws each next character from softmax(logits / T)."""
    ids = jnp.asarray([vocab.encode(prompt)], jnp.int32)
    state = model.apply(variables, ids, method="start_decoding")
    step = lambda tokens, state, t: model.apply(variables, tokens, state, method="decode_step")
    run = jax.jit(functools.partial(decoding.sample_decode, step, batch_size=1, bos_id=int(ids[0, -1]),
                                    eos_id=0, max_length=length, temperature=temperature))
    # eos_id=0 (PAD), which the model never predicts after training on text without padding.
    return prompt + vocab.decode(np.asarray(run(state, jax.random.key(seed)))[0])


def fit_ngram(cell: str, ds, batch_size: int):
    """The n-gram model of `cell` (ngram<n>) counted on the training windows, with the add-k smoothing of
    SMOOTHING that gives the fewest validation bits per character -> (model, variables, k, {split: bpc}, vocab).
    Its train figure is measured on every 8th training window (the networks' is that of their last batches)."""
    sources = {split: data.load(ds.name, split, data_dir=ds.data_dir, max_length=ds.max_length)
               for split in ("train", ds.eval_split, "test")}
    model = models.get("char_ngram", order=int(cell.removeprefix("ngram")), vocab_size=sources["train"].vocab_size)
    variables = model.init(jax.random.key(0), jnp.ones((1, ds.max_length), jnp.int32))
    batches = lambda: data.eval_batches(sources["train"], global_batch_size=1000, process_index=0, process_count=1)
    counted = fit.fit(model, Counting(k=SMOOTHING[0]), variables, batches)
    task = tasks.get("language_model")
    evaluate = jax.jit(lambda v, batch: task.evaluate(model, v["params"], {}, batch))
    bpc = lambda variables, source: bits_per_char(model, variables, source, batch_size, evaluate)
    validation = {k: bpc(Counting(k=k).solve(model, counted, counted["counts"]), sources[ds.eval_split])
                  for k in SMOOTHING}
    k = min(validation, key=validation.get)
    variables = Counting(k=k).solve(model, counted, counted["counts"])
    train = data.ArraySource({"tokens": sources["train"].arrays["tokens"][::8]})
    results = {"train": bpc(variables, train), ds.eval_split: validation[k], "test": bpc(variables, sources["test"])}
    return model, variables, k, results, sources["test"].vocab


def sample_ngram(model, variables, vocab, prompt: str, temperature: float, length: int, seed: int) -> str:
    """The n-gram model's continuation of `prompt`: each next character drawn from softmax(log P / T) given
    the n - 1 before it (T = 0: the most likely). Add-k has no back-off: once a sample reaches a context
    never seen, every byte is about as likely as any other and the text falls apart; control characters it
    draws are shown as U+FFFD."""
    context = model.order - 1
    ids = [0] * context + vocab.encode(prompt)     # PAD before a prompt shorter than the context

    @jax.jit
    def next_id(window, key):
        log_probs = model.apply(variables, window[None])[0, -1]
        if temperature == 0:
            return jnp.argmax(log_probs)
        return jax.random.categorical(key, log_probs / temperature)

    key = jax.random.key(seed)
    for i in range(length):
        window = jnp.asarray(ids[len(ids) - max(context, 1):], jnp.int32)
        ids.append(int(next_id(window, jax.random.fold_in(key, i))))
    text = vocab.decode(ids[len(ids) - length:])
    return prompt + "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)


def curve_points(cell: str, workdir: Path, eval_split: str) -> list[dict]:
    """The run's bits per character at its train records and evaluations."""
    return [{"cell": cell, "split": "train" if r["split"] == "train" else "validation", "step": r["step"],
             "bits_per_char": r["bits_per_token"]} for r in read_metrics(workdir)
            if r.get("split") in ("train", eval_split) and "bits_per_token" in r]


def plot_curves(points: list[dict], path: Path, levels: dict[str, float] | None = None):
    """One colour per model: training dashed, validation solid with markers; `levels` ({cell: validation bits},
    the n-grams, which count instead of training) as grey dotted lines named on the right-hand axis."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    levels = levels or {}
    for bits in levels.values():
        ax.axhline(bits, color="0.45", linestyle=":", linewidth=1)
    cells = list(dict.fromkeys(p["cell"] for p in points))
    for i, cell in enumerate(cells):
        for split, style in (("train", "--"), ("validation", "o-")):
            mine = [(int(p["step"]), float(p["bits_per_char"])) for p in points
                    if p["cell"] == cell and p["split"] == split]
            if mine:
                ax.plot(*zip(*mine), style, color=f"C{i}", markersize=3, alpha=0.6 if split == "train" else 1,
                        label=f"{cell}" if split == "validation" else None)
    ax.plot([], [], "k--", alpha=0.6, label="training (dashed)")
    ax.plot([], [], "ko-", markersize=3, label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("bits per character")
    ax.set_title("Character-level LMs on Python standard-library docstrings")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if levels:   # tick labels on a second axis: they never overlap the curves or each other's lines
        right = ax.twinx()
        right.set_ylim(ax.get_ylim())
        right.set_yticks(list(levels.values()), [f"{c.removeprefix('ngram')}-gram" for c in levels], fontsize=7)
        right.set_ylabel("n-grams, validation (counted, dotted)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# Flags that make another experiment than the committed reference (--update_results refuses them).
FIXED = ("prompt", "temperatures", "sample_length", "seed")


def main(argv):
    del argv
    quiet_orbax_logs()
    output_dir, workdir = report.output_dir(__file__, fixed=FIXED), Path(FLAGS.workdir)
    chosen = FLAGS.cells or (SMALL_CELLS if FLAGS.variant == "small" else CELLS)
    cells = list(dict.fromkeys(c for cell in chosen for c in (NGRAMS if cell == "ngram" else [cell])))
    unknown = set(cells) - set(CELLS)
    if unknown:
        raise app.UsageError(f"unknown cells {sorted(unknown)}; known: {', '.join(CELLS)} (ngram: all five n-grams).")
    report.check_mergeable(output_dir, ["results.csv", "curves.csv", "samples.csv"], set(cells) != set(CELLS))
    rows, samples, points = [], [], []
    for cell in cells:
        if cell in NGRAMS:   # counted, not trained: the dataset of the networks' config
            config = config_lib.load("configs/char_lm.py" + (f":lstm,{FLAGS.variant}" if FLAGS.variant else ""))
            ds = config.dataset
            model, variables, k, bpc, vocab = fit_ngram(cell, ds, config.eval_batch_size)
            rows.append({"cell": cell, "params": complexity.count_params(variables["params"]),
                         "steps": f"1 pass, k={k:g}", "train_bpc": f"{bpc['train']:.3f}",
                         "validation_bpc": f"{bpc[ds.eval_split]:.3f}", "test_bpc": f"{bpc['test']:.3f}"})
            logging.info("%s (add-%g): test %.3f bits per character", cell, k, bpc["test"])
            for t in FLAGS.temperatures:
                text = sample_ngram(model, variables, vocab, FLAGS.prompt, float(t),
                                    FLAGS.sample_length, FLAGS.seed)
                samples.append({"cell": cell, "temperature": t, "prompt": FLAGS.prompt, "text": text})
            continue
        config = config_lib.load(f"configs/char_lm.py:{cell}" + (f",{FLAGS.variant}" if FLAGS.variant else ""))
        results = trainer.train_and_evaluate(config, workdir / cell)
        model = models.get(config.model.name, **config.model.kwargs)
        variables = load_variables(workdir / cell)
        ds = config.dataset
        test = data.load(ds.name, "test", data_dir=ds.data_dir, max_length=ds.max_length)
        test_bpc = bits_per_char(model, variables, test, config.eval_batch_size)
        params = complexity.count_params(variables["params"])
        rows.append({"cell": cell, "params": params, "steps": config.num_train_steps,
                     "train_bpc": f"{results.get('bits_per_token', math.nan):.3f}",
                     "validation_bpc": f"{results.get(f'{ds.eval_split}_bits_per_token', math.nan):.3f}",
                     "test_bpc": f"{test_bpc:.3f}"})
        points += curve_points(cell, workdir / cell, ds.eval_split)
        logging.info("%s: test %.3f bits per character", cell, test_bpc)
        for t in FLAGS.temperatures:
            if cell == "gpt":
                text = sample_gpt(model, variables, test.vocab, FLAGS.prompt, float(t), FLAGS.sample_length,
                                  FLAGS.seed, ds.max_length)
            else:
                text = sample(model, variables, test.vocab, FLAGS.prompt, float(t), FLAGS.sample_length, FLAGS.seed)
            samples.append({"cell": cell, "temperature": t, "prompt": FLAGS.prompt, "text": text})

    # Cells run before (here, or in the committed reference) keep their rows, curves and samples.
    rows = report.merge_rows(output_dir / "results.csv", rows, key=("cell",), order=CELLS)
    points = report.merge_rows(output_dir / "curves.csv", points, key=("cell",), order=CELLS)
    samples = report.merge_rows(output_dir / "samples.csv", samples, key=("cell",), order=CELLS)
    plot_curves(points, output_dir / "bits_per_char.png",
                {r["cell"]: float(r["validation_bpc"]) for r in rows if r["cell"] in NGRAMS})
    lines = ["# Character-level language models: Python standard-library docstrings", "",
             "Bits per character (bytes) on held-out modules; recurrent nets of 2 layers of 256 units and a GPT "
             "of 4 blocks of width 192, 100-character windows (configs/char_lm.py); character n-grams "
             "(Markov chains of order n - 1) counted in one pass over the training windows, add-k smoothing "
             "with k chosen on validation, parameters = cells of the count table (hashed into 2^23 above "
             "order 2: log-counts and owners), train figure on every 8th training window. Regenerate with "
             "`python experiments/char_lm.py --update_results`.", "",
             "| cell | parameters | steps | train | validation | test |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['cell']} | {int(r['params']):,} | {r['steps']} | {float(r['train_bpc']):.3f} | "
              f"{float(r['validation_bpc']):.3f} | {float(r['test_bpc']):.3f} |" for r in rows]
    lines += ["", "![bits per character](bits_per_char.png)", "", "Samples: [samples.md](samples.md)", ""]
    (output_dir / "results.md").write_text("\n".join(lines))
    sample_lines = ["# Samples", ""]
    for r in samples:
        sample_lines += [f"## {r['cell']}, temperature {r['temperature']}", "", f"Continuing `{r['prompt']}`:", "",
                         "```", r["text"], "```", ""]
    (output_dir / "samples.md").write_text("\n".join(sample_lines))
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    cli.run(main)

"""BERT's masked-language-model pre-training on the docstrings of Python's standard library.

Trains configs/masked_lm.py (a byte-level BERT), then reports its MLM accuracy (the share of hidden
characters it restores) on the held-out modules beside two baselines that see no context, and shows a
few test windows with their hidden characters and the model's guesses.

    python experiments/masked_lm.py                # ~1.5 h on 2 CPU cores (0.45 steps/s)
    python experiments/masked_lm.py --variant=small  # 11 min: 800 steps on 32-byte windows
    python experiments/masked_lm.py --variant=smoke --workdir=/tmp/runs

The run is resumable (an ordinary workdir); writes results.md and mlm_curves.png to --output_dir
(default --workdir; --update_results: experiments/masked_lm/).
"""
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
from absl import flags, logging

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's deepzoo, not another installed one
from deepzoo import cli, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo import data, models, tasks  # noqa: E402
from deepzoo.analysis import complexity  # noqa: E402
from deepzoo.tasks import masked_lm  # noqa: E402
from deepzoo.tasks import metrics as metrics_lib  # noqa: E402
from deepzoo.train import trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402
from deepzoo.train.writers import read_metrics  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/masked_lm", "Run directory (resumable).")
report.define_flags()
flags.DEFINE_string("variant", "", "Config variant, e.g. 'smoke' for tests.")
flags.DEFINE_integer("examples", 4, "Test windows shown with their fill-ins.")


def test_metrics(model, variables, task, source, batch_size: int) -> dict:
    """The task's own evaluation (a fixed masking key) over every window of the split."""
    evaluate = jax.jit(lambda v, batch: task.evaluate(model, v["params"], {}, batch))
    total = None
    for batch in data.eval_batches(source, global_batch_size=batch_size, process_index=0, process_count=1):
        m = evaluate(variables, batch)
        total = m if total is None else metrics_lib.add(total, m)
    return metrics_lib.means(jax.device_get(total))


def baselines(train_tokens, test_tokens, num_special: int) -> dict:
    """Guessing without context: always the most frequent character of the training text."""
    real = lambda t: t[t >= num_special]
    counts = np.bincount(real(train_tokens).ravel(), minlength=260)
    test = real(test_tokens)
    return {"most frequent character": float(np.mean(test == np.argmax(counts)))}


def fill_ins(model, variables, task, source, count: int) -> list[str]:
    """Markdown blocks: the window, the input with hidden characters shown as ▒, and the guesses."""
    batch = source.read(np.arange(count))
    tokens = jnp.asarray(batch["tokens"])
    corrupted, chosen = masked_lm.corrupt(tokens, jax.random.key(task.eval_seed + 1), vocab_size=model.vocab_size,
                                          mask_id=task.mask_id, mask_rate=task.mask_rate,
                                          num_special=task.num_special)
    guesses = jnp.argmax(model.apply(variables, corrupted), -1)
    vocab, blocks = source.vocab, []
    show = lambda ids: vocab.decode([int(i) for i in ids]).replace("\n", "⏎")
    for row in range(count):
        hidden = np.asarray(chosen[row])
        shown = np.where(hidden & (np.asarray(corrupted[row]) == task.mask_id), -1, np.asarray(corrupted[row]))
        masked = "".join("▒" if i == -1 else show([i]) for i in shown)
        guessed = np.where(hidden, np.asarray(guesses[row]), np.asarray(tokens[row]))
        right = int(np.sum(hidden & (np.asarray(guesses[row]) == np.asarray(tokens[row]))))
        blocks += [f"**window {row + 1}**: {right} of {int(hidden.sum())} hidden characters restored", "", "```",
                   "original: " + show(tokens[row]), "input:    " + masked, "restored: " + show(guessed), "```", ""]
    return blocks


def plot_curves(workdir, path: Path, eval_split: str):
    records = read_metrics(str(workdir))
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for split, style in (("train", "-"), (eval_split, "o-")):
        points = [(r["step"], 100 * r["token_accuracy"]) for r in records
                  if r.get("split") == split and "token_accuracy" in r]
        if points:
            ax.plot(*zip(*points), style, label=split)
    ax.set(xlabel="step", ylabel="MLM accuracy (% of hidden characters)",
           title="Byte-level BERT on Python docstrings")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# Flags that make another experiment than the committed reference (--update_results refuses them).
FIXED = ("examples",)


def main(argv):
    del argv
    quiet_orbax_logs()
    output_dir = report.output_dir(__file__, fixed=FIXED)
    config = config_lib.load("configs/masked_lm.py" + (f":{FLAGS.variant}" if FLAGS.variant else ""))
    results = trainer.train_and_evaluate(config, FLAGS.workdir)
    model = models.get(config.model.name, **config.model.kwargs)
    task = tasks.get(config.task.name, **config.task.kwargs)
    variables = load_variables(FLAGS.workdir)
    ds = config.dataset
    test = data.load(ds.name, "test", data_dir=ds.data_dir, max_length=ds.max_length)
    train = data.load(ds.name, "train", data_dir=ds.data_dir, max_length=ds.max_length)
    measured = test_metrics(model, variables, task, test, config.eval_batch_size)
    guess = baselines(train.read(np.arange(min(len(train), 20_000)))["tokens"],
                      test.read(np.arange(len(test)))["tokens"], task.num_special)
    logging.info("MLM accuracy on test: %.4f", measured["token_accuracy"])
    plot_curves(FLAGS.workdir, output_dir / "mlm_curves.png", ds.eval_split)
    lines = ["# Masked-language-model pre-training: a byte-level BERT on Python docstrings", "",
             f"{config.model.name}: {complexity.count_params(variables['params']):,} parameters, "
             f"{config.num_train_steps} steps of {config.batch_size} windows of {ds.max_length + 1} bytes "
             f"(configs/masked_lm.py). {100 * task.mask_rate:.0f}% of the characters hidden (80% [MASK], 10% random, "
             f"10% kept); "
             f"accuracy is over the hidden ones. Regenerate with `python experiments/masked_lm.py`.", "",
             "| | MLM accuracy | bits per hidden character |", "|---|---|---|",
             f"| train (last steps) | {100 * results.get('token_accuracy', float('nan')):.1f}% | "
             f"{results.get('bits_per_token', float('nan')):.3f} |",
             f"| {ds.eval_split} | {100 * results.get(f'{ds.eval_split}_token_accuracy', float('nan')):.1f}% | "
             f"{results.get(f'{ds.eval_split}_bits_per_token', float('nan')):.3f} |",
             f"| test | {100 * measured['token_accuracy']:.1f}% | {measured['bits_per_token']:.3f} |"]
    lines += [f"| baseline: {name} | {100 * value:.1f}% | |" for name, value in guess.items()]
    lines += ["", f"Reference: {config.reference}.", "", "![MLM accuracy](mlm_curves.png)", "",
              "## Fill-ins on test windows (▒ = [MASK]; randomly replaced and kept characters are hidden too)", ""]
    lines += fill_ins(model, variables, task, test, FLAGS.examples)
    (output_dir / "results.md").write_text("\n".join(lines) + "\n")
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    cli.run(main)

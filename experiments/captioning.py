"""Show, Attend and Tell on composites of 2-4 real MNIST digits: does the decoder look at the digit it
is naming?

Trains configs/mnist_captions.py, captions the test composites (greedy and beam search), reports exact
match (the whole caption right) overall and by number of digits, and draws, for a few test images, the
attention over the image behind each generated word (Xu et al. 2015, Figure 3).

    python experiments/captioning.py                 # ~10 min on 2 CPU cores

The run is resumable (an ordinary workdir); writes results.md, results.csv and attention.png to
--output_dir (default --workdir; --update_results: experiments/captioning/).
"""
import csv
import functools
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
from deepzoo import data, models  # noqa: E402
from deepzoo.data import text  # noqa: E402
from deepzoo.inference import decoding  # noqa: E402
from deepzoo.layers.attention import sown_attention_weights  # noqa: E402
from deepzoo.tasks.seq2seq import shift_right  # noqa: E402
from deepzoo.train import trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/captioning", "The run directory (resumable).")
report.define_flags()
flags.DEFINE_string("variant", "", "Config variant, e.g. 'smoke' for tests.")
flags.DEFINE_integer("beam_size", 3, "Beam width (greedy is always reported too).")
flags.DEFINE_integer("examples", 4, "Test images whose attention maps are drawn.")


def digit_count(caption: str) -> int:
    """Digits of the 2-4 digit number (first digit non-zero) that `caption` spells."""
    return 4 if "thousand" in caption else 3 if "hundred" in caption else 2


def caption(model, variables, images, *, beam_size: int, max_length: int, batch_size: int = 500):
    generate = jax.jit(functools.partial(decoding.generate, model, max_length=max_length, bos_id=text.BOS,
                                         eos_id=text.EOS, beam_size=beam_size))
    return np.concatenate([np.asarray(generate(variables, jnp.asarray(images[i:i + batch_size], jnp.float32) / 255))
                           for i in range(0, len(images), batch_size)])


def plot_attention(model, variables, images, tokens, vocab, path: Path):
    """One row per image: the image, then each generated word with its attention map over the image."""
    images = np.asarray(images)
    words = [[w for w in vocab.decode(t).split()] for t in tokens]
    _, state = model.apply(variables, jnp.asarray(images, jnp.float32) / 255,
                           shift_right(jnp.asarray(tokens), text.BOS), mutable=["intermediates"])
    weights = sown_attention_weights(state["intermediates"])["decoder"][:, 0]   # (B, T, regions): one head
    grid_h, grid_w = model.grid_shape(images.shape[1:3])
    cols = 1 + max(len(w) + 1 for w in words)  # the words and EOS
    fig, axes = plt.subplots(len(images), cols, figsize=(1.9 * cols, 0.75 * len(images) + 0.3), squeeze=False)
    for row, (image, row_words) in enumerate(zip(images, words)):
        axes[row, 0].imshow(image[..., 0], cmap="gray")
        axes[row, 0].set_title("input", fontsize=7)
        for col, word in enumerate(row_words + ["</s>"], start=1):
            alpha = np.asarray(weights[row, col - 1]).reshape(grid_h, grid_w)
            axes[row, col].imshow(image[..., 0], cmap="gray")
            axes[row, col].imshow(alpha, cmap="inferno", alpha=0.6, interpolation="bilinear",
                                  extent=(-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
            axes[row, col].set_title(word, fontsize=7)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle("Show, Attend and Tell on MNIST composites: where the decoder looks for each word", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# Flags that make another experiment than the committed reference (--update_results refuses them).
FIXED = ("beam_size", "examples")


def main(argv):
    del argv
    quiet_orbax_logs()
    output_dir, workdir = report.output_dir(__file__, fixed=FIXED), Path(FLAGS.workdir)
    config = config_lib.load("configs/mnist_captions.py" + (f":{FLAGS.variant}" if FLAGS.variant else ""))
    trainer.train_and_evaluate(config, workdir)
    model = models.get(config.model.name, **config.model.kwargs)
    variables = load_variables(workdir)

    ds = config.dataset
    test = data.load(ds.name, "test", data_dir=ds.data_dir, max_length=ds.max_length)
    arrays = test.read(np.arange(len(test)))
    references = data.texts(ds.name, "test", "caption", data_dir=ds.data_dir)
    digits = np.array([digit_count(r) for r in references])
    rows = []
    for name, width in (("greedy", 1), (f"beam {FLAGS.beam_size}", FLAGS.beam_size)):
        tokens = caption(model, variables, arrays["image"], beam_size=width, max_length=ds.max_length)
        right = np.array([test.vocab.decode(t) == r for t, r in zip(tokens, references)])
        row = {"decoding": name, "all": float(right.mean())}
        row.update({f"{d} digits": float(right[digits == d].mean()) for d in (2, 3, 4) if np.any(digits == d)})
        rows.append(row)
        logging.info("%s: exact match %.4f", name, row["all"])
        if width == 1:
            plot_attention(model, variables, arrays["image"][:FLAGS.examples], tokens[:FLAGS.examples],
                           test.vocab, output_dir / "attention.png")

    with open(output_dir / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    columns = list(rows[0])[1:]
    lines = ["# Show, Attend and Tell: captions of 2-4 MNIST digits", "",
             f"Exact match (%) of the whole caption on the {len(test):,} test composites (made of the "
             f"MNIST-5k test digits, never seen in training). Regenerate with `python experiments/captioning.py`.",
             "", "| decoding | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    lines += [f"| {r['decoding']} | " + " | ".join(f"{100 * r[c]:.1f}" for c in columns) + " |" for r in rows]
    lines += ["", "![attention maps](attention.png)", ""]
    (output_dir / "results.md").write_text("\n".join(lines))
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    cli.run(main)

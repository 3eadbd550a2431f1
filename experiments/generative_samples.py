"""Samples from the generative models trained on MNIST-5k, and how digit-like they are.

    python experiments/generative_samples.py     # trains or resumes the VAE, DCGAN, RealNVP, DDPM and a LeNet;
                                                 # ~30 min here, most of it DDPM's 1,000 sampling steps

Trains (or resumes) the vae, gan, flow and diffusion variants of configs/mnist5k_generative.py and the
LeNet of configs/mnist5k_cnn.py under --workdir, draws --num_samples digits from each model and writes
to --output_dir (default <workdir>/generative_samples, as autoencoders.py shares the runs; --update_results:
experiments/generative_samples/):
  samples.png           a grid per model beside real test digits
  gan_samples.png       64 DCGAN digits;   diffusion_samples.png  64 DDPM digits
  diffusion_chain.png   the reverse process x_T -> x_0 of 8 digits, every 100 steps
  results.md, results.csv  the sample-quality score
The score is an Inception-score analogue with the LeNet as the judge (Salimans et al. 2016): its mean
top-class confidence, the mean entropy of p(y|x) (low: each sample looks like one digit), the entropy
of the mean p(y) (high, at most log 10 = 2.30: all ten digits are made) and exp E[KL(p(y|x) || p(y))]
(at most 10). Real test digits give the reference row.
"""
import csv
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
from deepzoo.inference.sampling import ddpm_sample  # noqa: E402
from deepzoo.tasks.gan import sample_noise  # noqa: E402
from deepzoo.train import trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/autoencoders", "Run directories, one per model (resumable; shared with "
                    "experiments/autoencoders.py).")
report.define_flags()
flags.DEFINE_enum("variant", "", ["", "small", "smoke"], "Config option appended to each generative model's run: "
                  "'small' (500 steps each, 64 samples and 100 DDPM steps unless given) or 'smoke' (a few steps, "
                  "for tests).")
flags.DEFINE_integer("num_samples", 500, "Samples scored per model.")
flags.DEFINE_integer("sample_steps", 0, "DDPM's reverse steps: 0 for all of its T = 1000, or a divisor of T (the "
                     "schedule respaced, Nichol & Dhariwal 2021).")

MODELS = ("vae", "gan", "flow", "diffusion")


def train(spec, name, variant):
    config = config_lib.load(spec + (f",{variant}" if variant else ""))
    workdir = Path(FLAGS.workdir) / name
    results = trainer.train_and_evaluate(config, workdir)
    model = models.get(config.model.name, **config.model.kwargs)
    return config, model, load_variables(workdir, ema=config.ema_decay > 0), results


def draw(name, config, model, variables, key, n):
    """n samples in [0, 1] of shape (n, 28, 28, 1); for diffusion also the chain (11, 8, 28, 28, 1)."""
    if name == "vae":
        z = jax.random.normal(key, (n, config.model.kwargs.latent_dim))
        return jax.nn.sigmoid(model.apply(variables, z, method="decode")), None
    if name == "flow":
        z = jax.random.normal(key, (n, 28 * 28))
        return jnp.clip(model.apply(variables, z, method="inverse"), 0, 1), None
    if name == "gan":
        z = sample_noise(key, n, model.latent_dim, config.task.kwargs.noise)
        return (model.apply(variables, z, method="generate") + 1) / 2, None
    task = tasks.get(config.task.name, **config.task.kwargs)
    eps_fn = lambda x, t: model.apply(variables, x, t)
    steps = FLAGS.sample_steps or task.num_steps
    run = jax.jit(lambda k: ddpm_sample(eps_fn, task.schedule, k, (n, 28, 28, 1), keep_every=steps // 10,
                                        num_steps=steps))
    x0, chain = run(key)
    return jnp.clip((x0 + 1) / 2, 0, 1), jnp.clip((chain[:, :8] + 1) / 2, 0, 1)


def score(probs) -> dict:
    """The LeNet's judgement of a set of digits, from its class probabilities (n, 10)."""
    probs = np.asarray(probs, np.float64)
    logp = np.log(np.clip(probs, 1e-12, 1))
    marginal = probs.mean(0)
    kl = np.sum(probs * (logp - np.log(np.clip(marginal, 1e-12, 1))), axis=1)
    return {"confidence": float(probs.max(1).mean()), "entropy": float(-(probs * logp).sum(1).mean()),
            "class_entropy": float(-(marginal * np.log(np.clip(marginal, 1e-12, 1))).sum()),
            "inception_score": float(np.exp(kl.mean())),
            "classes": np.bincount(probs.argmax(1), minlength=10).tolist()}


def grid(images, rows, cols):
    """The first rows x cols images as one picture (blank cells where there are fewer)."""
    images = np.asarray(images)[: rows * cols, :, :, 0]
    images = np.concatenate([images, np.zeros((rows * cols - len(images), 28, 28), images.dtype)])
    return images.reshape(rows, cols, 28, 28).transpose(0, 2, 1, 3).reshape(rows * 28, cols * 28)


def save_picture(path, picture, title, column_labels=None):
    fig, ax = plt.subplots(figsize=(6, 6 * picture.shape[0] / picture.shape[1] + 0.4 + 0.3 * bool(column_labels)))
    ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.set_yticks([])
    if column_labels:   # one label under each column of 28-pixel cells
        ax.set_xticks([28 * i + 13.5 for i in range(len(column_labels))], column_labels, fontsize=7)
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
    else:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# Flags that make another experiment than the committed reference (--update_results refuses them).
FIXED = ("num_samples", "sample_steps")


def main(argv):
    del argv
    quiet_orbax_logs()
    out = report.output_dir(__file__, fixed=FIXED, subdir="generative_samples")
    if FLAGS.variant == "small":
        FLAGS.num_samples = FLAGS.num_samples if FLAGS["num_samples"].present else 64
        FLAGS.sample_steps = FLAGS.sample_steps if FLAGS["sample_steps"].present else 100
    T = config_lib.load("configs/mnist5k_generative.py:diffusion" + (f",{FLAGS.variant}" if FLAGS.variant else "")
                        ).task.kwargs.num_steps
    if FLAGS.sample_steps < 0 or T % (FLAGS.sample_steps or T):
        raise app.UsageError(f"--sample_steps={FLAGS.sample_steps} does not divide DDPM's {T} steps; give a divisor.")
    # The judge trains in seconds: always at full size (smoke aside), so that small scores mean the same.
    _, judge, judge_variables, judge_results = train("configs/mnist5k_cnn.py:lenet_mnist", "lenet_judge",
                                                     "smoke" if FLAGS.variant == "smoke" else "")
    classify = jax.jit(lambda x: jax.nn.softmax(judge.apply(judge_variables, x)))
    test = data.load("mnist5k", "test")
    real = jnp.asarray(test.arrays["input"][: FLAGS.num_samples])

    sets, rows = {"real test digits": real}, []
    for i, name in enumerate(MODELS):
        config, model, variables, _ = train(f"configs/mnist5k_generative.py:{name}", name, FLAGS.variant)
        logging.info("Drawing %d samples from %s.", FLAGS.num_samples, name)
        samples, chain = draw(name, config, model, variables, jax.random.key(100 + i), FLAGS.num_samples)
        sets[name] = samples
        if name in ("gan", "diffusion"):
            save_picture(out / f"{name}_samples.png", grid(samples, 8, 8),
                         {"gan": "DCGAN", "diffusion": "DDPM"}[name] + ": 64 samples")
        if chain is not None:
            frames = np.asarray(chain).transpose(1, 0, 2, 3, 4).reshape(-1, 28, 28, 1)   # a row per digit
            steps = [f"t={T - T // 10 * i}" for i in range(chain.shape[0])]
            save_picture(out / "diffusion_chain.png", grid(frames, 8, chain.shape[0]),
                         f"DDPM reverse process in {FLAGS.sample_steps or T} steps: x_t from t = {T} (noise) to t = 0",
                         steps)

    for name, images in sets.items():
        rows.append({"model": name, "samples": int(images.shape[0]), **score(classify(images))})

    fig, axes = plt.subplots(1, len(sets), figsize=(3.2 * len(sets), 3.6))
    for ax, (name, images) in zip(axes, sets.items()):
        ax.imshow(grid(images, 6, 6), cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "samples.png", dpi=120)
    plt.close(fig)

    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# Samples from the generative models on MNIST-5k, judged by a LeNet", "",
             f"Regenerate with `python experiments/generative_samples.py`. {FLAGS.num_samples} samples per model (DDPM's "
             f"in {FLAGS.sample_steps or 'all 1000'} steps); the "
             f"judge is configs/mnist5k_cnn.py:lenet_mnist ({100 * judge_results['test_accuracy']:.1f}% test "
             f"accuracy). Confidence: mean top-class probability; entropy: mean entropy of p(y|x) in nats (low: "
             f"each sample is one clear digit); class entropy: entropy of the mean p(y) (log 10 = 2.303 when all "
             f"ten digits are equally made); score: exp E[KL(p(y|x) || p(y))], the Inception score with a LeNet "
             f"(at most 10).", "",
             "| samples | confidence | entropy | class entropy | score | digits 0-9 (judged) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['confidence']:.3f} | {r['entropy']:.3f} | {r['class_entropy']:.3f} | "
                     f"{r['inception_score']:.2f} | {' '.join(map(str, r['classes']))} |")
    lines += ["", "![samples](samples.png)", "", "![DCGAN](gan_samples.png)", "", "![DDPM](diffusion_samples.png)",
              "", "![DDPM chain](diffusion_chain.png)", ""]
    (out / "results.md").write_text("\n".join(lines))
    logging.info("Wrote %s", out / "results.md")
    print("\n".join(lines))


if __name__ == "__main__":
    cli.run(main)

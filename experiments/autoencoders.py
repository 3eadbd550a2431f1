"""Autoencoders, the VAE and a flow on MNIST-5k: reconstructions, a 2-D code, samples, a latent traversal.

    python experiments/autoencoders.py        # seven runs of configs/mnist5k_generative.py, ~20 min here

Trains (or resumes) every variant of configs/mnist5k_generative.py under --workdir and writes to
--output_dir (default --workdir; --update_results: experiments/autoencoders/): flow_samples.png,
reconstructions.png (test digits and what each model rebuilds; the denoising model from corrupted
inputs), codes_2d.png (the 2-D codes of the test digits, coloured by class), vae_samples.png (decoded
draws from the prior), vae_traversal.png (one digit's code moved along each latent axis) and results.md
(test reconstruction cost and -ELBO).
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
from deepzoo.train import trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/autoencoders", "Run directories, one per variant (resumable).")
report.define_flags()
flags.DEFINE_string("variant", "", "Config variant appended to each run, e.g. 'smoke' for tests.")

RUNS = ("ae", "conv_ae", "denoising", "sparse", "ae_2d", "vae", "flow")


def train(name):
    spec = f"configs/mnist5k_generative.py:{name}" + (f",{FLAGS.variant}" if FLAGS.variant else "")
    config = config_lib.load(spec)
    workdir = Path(FLAGS.workdir) / name
    results = trainer.train_and_evaluate(config, workdir)
    model = models.get(config.model.name, **config.model.kwargs)
    variables = load_variables(workdir)
    params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(variables["params"]))
    return config, model, variables, results, params


def grid(images, rows, cols):
    """(rows * cols, 28, 28, 1) -> one (rows * 28, cols * 28) picture."""
    images = np.asarray(images)[: rows * cols, :, :, 0]
    return images.reshape(rows, cols, 28, 28).transpose(0, 2, 1, 3).reshape(rows * 28, cols * 28)


def main(argv):
    del argv
    quiet_orbax_logs()
    out = report.output_dir(__file__)
    test = data.load("mnist5k", "test")
    x, labels = jnp.asarray(test.arrays["input"]), test.arrays["label"]
    shown = x[:10]
    runs = {name: train(name) for name in RUNS}

    # Reconstructions: originals, then each model; the denoising row rebuilds from corrupted digits.
    rows, titles = [np.asarray(shown)], ["test digits"]
    for name, (config, model, variables, _, _) in runs.items():
        if name == "flow":
            continue
        if name == "vae":
            rows.append(jax.nn.sigmoid(model.apply(variables, shown)["logits"]))
            titles.append("VAE (posterior mean)")
            continue
        task = tasks.get(config.task.name, **config.task.kwargs)
        inputs = shown
        if name == "denoising":
            inputs = jnp.clip(task.corrupt(shown, jax.random.key(0)), 0, 1)
            rows.append(inputs)
            titles.append("corrupted (noise 0.3, 25% zeroed)")
        rows.append(jax.nn.sigmoid(model.apply(variables, inputs)["reconstruction"]))
        titles.append(name)
    fig, axes = plt.subplots(len(rows), 1, figsize=(8, 0.95 * len(rows)))
    for ax, row, title in zip(axes, rows, titles):
        ax.imshow(grid(row, 1, 10), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8, loc="left")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "reconstructions.png", dpi=120)
    plt.close(fig)

    # The 2-D code of every test digit.
    _, model, variables, _, _ = runs["ae_2d"]
    codes = np.asarray(model.apply(variables, x, method="encode"))
    fig, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=6)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_title("2-D autoencoder codes of the 1,000 test digits")
    fig.tight_layout()
    fig.savefig(out / "codes_2d.png", dpi=120)
    plt.close(fig)

    # VAE: samples from the prior, and a traversal of each latent axis from one test digit's code.
    config, model, variables, _, _ = runs["vae"]
    latent = config.model.kwargs.latent_dim
    z = jax.random.normal(jax.random.key(0), (64, latent))
    samples = jax.nn.sigmoid(model.apply(variables, z, method="decode"))
    mean, _ = model.apply(variables, x[:1], method="encode")
    steps = jnp.linspace(-3, 3, 9)
    axes_shown = min(latent, 10)
    moved = jnp.repeat(mean, axes_shown * len(steps), 0).reshape(axes_shown, len(steps), latent)
    moved = moved.at[jnp.arange(axes_shown), :, jnp.arange(axes_shown)].set(steps)
    traversal = jax.nn.sigmoid(model.apply(variables, moved.reshape(-1, latent), method="decode"))
    for name, picture, title in (("vae_samples.png", grid(samples, 8, 8), "VAE: 64 draws z ~ N(0, I), decoded"),
                                 ("vae_traversal.png", grid(traversal, axes_shown, len(steps)),
                                  f"VAE: latent axes 1-{axes_shown} of a test digit's code, -3 to 3")):
        fig, ax = plt.subplots(figsize=(6, 6 * picture.shape[0] / picture.shape[1] + 0.4))
        ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        plt.close(fig)

    # The flow: codes drawn from N(0, T^2 I) and inverted, at T = 1 (the model) and T = 0.7.
    _, model, variables, _, _ = runs["flow"]
    dims = int(np.prod(x.shape[1:]))
    draws = [jnp.clip(model.apply(variables, t * jax.random.normal(jax.random.key(1), (32, dims)), method="inverse"),
                      0, 1) for t in (1.0, 0.7)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.6))
    for ax, draw, t in zip(axes, draws, (1.0, 0.7)):
        ax.imshow(grid(draw, 4, 8), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"RealNVP samples, temperature {t}", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "flow_samples.png", dpi=120)
    plt.close(fig)

    lines = ["# Autoencoders, the VAE and a flow on MNIST-5k", "",
             "Regenerate with `python experiments/autoencoders.py` (configs/mnist5k_generative.py). Test split: the "
             "1,000 held-out digits. Reconstruction cost: Bernoulli negative log-likelihood in nats per digit "
             "(784 pixels in [0, 1]); pixel MSE of the reconstructed means.", "",
             "| model | parameters | steps | test reconstruction (nats) | test pixel MSE | notes |", "|---|---|---|---|---|---|"]
    for name, (config, _, _, results, params) in runs.items():
        if name == "flow":
            lines.append(f"| flow (RealNVP) | {params:,} | {config.num_train_steps} | | | exact: "
                         f"{results['test_bits_per_dim']:.3f} bits per dimension (uniform: 8) |")
            continue
        if name == "vae":
            note = (f"-ELBO {results['test_neg_elbo']:.1f} nats = reconstruction + KL {results['test_kl']:.1f} "
                    f"(one sample of z per digit)")
            lines.append(f"| vae | {params:,} | {config.num_train_steps} | {results['test_reconstruction']:.1f} | | {note} |")
            continue
        note = {"denoising": "trained on corrupted inputs, tested on clean ones",
                "sparse": f"KL sparsity penalty {results['test_sparsity_penalty']:.2f}, mean code "
                          f"{results['test_mean_abs_code']:.3f} (target 0.05)",
                "ae_2d": "2-dimensional code"}.get(name, "")
        lines.append(f"| {name} | {params:,} | {config.num_train_steps} | {results['test_reconstruction']:.1f} | "
                     f"{results['test_pixel_mse']:.4f} | {note} |")
    lines += ["", f"Reference: {runs['vae'][0].reference} (trained on 15x more digits).", "",
              "![reconstructions](reconstructions.png)", "", "![2-D codes](codes_2d.png)", "",
              "![VAE samples](vae_samples.png)", "", "![VAE traversal](vae_traversal.png)", "",
              "![flow samples](flow_samples.png)", ""]
    (out / "results.md").write_text("\n".join(lines))
    logging.info("Wrote %s", out / "results.md")
    print("\n".join(lines))


if __name__ == "__main__":
    cli.run(main)

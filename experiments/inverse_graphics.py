"""Do the latents mean the scene's factors? The deep convolutional inverse graphics network against the same
network trained as a plain VAE (Kulkarni et al. 2015), on generated shapes with five known factors.

Both runs (configs/inverse_graphics.py) train dcign_shapes on the same images: DC-IGN on groups in which one factor
varies, the other factors' latents clamped; the VAE on each image alone. Then each encodes the 4,800 test images
(posterior means) and the table says, per factor, how well one latent follows it: |Pearson r| for scale,
rotation, x and y, the correlation ratio (eta: the share of a latent's spread explained by the class, rooted) for
the shape; for DC-IGN the latents it gave the factor, for the VAE the best of its ten, and how many latents follow
the factor with a score over 0.5 (one, if the code is disentangled). inverse_graphics.png: the score of every
latent with every factor, and the traversals (a test image's code, one latent moved from -2.5 to 2.5).

    python experiments/inverse_graphics.py                         # about 35 minutes on 2 CPU cores
    python experiments/inverse_graphics.py --variant=small

Runs are resumable (ordinary workdirs under --workdir, one per model).
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
from deepzoo import cli, data, models, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo.data.shapes import FACTORS, SHAPES  # noqa: E402
from deepzoo.plots.images import grid as image_grid  # noqa: E402
from deepzoo.train import trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402

RUNS = {"dcign": "DC-IGN", "vae": "VAE"}
TRAVERSAL = np.linspace(-2.5, 2.5, 9)
FOLLOWS = 0.5                 # a latent "follows" a factor when its score is above this

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/inverse_graphics", "Run directories, one per model (resumable).")
flags.DEFINE_string("variant", "", "Config option appended to each run: 'small', or 'smoke' for tests.")
report.define_flags()


def scores(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """(latents, factors) in [0, 1]: the correlation ratio of each latent with the shape class, |Pearson r| with
    each continuous factor."""
    z = (codes - codes.mean(0)) / (codes.std(0) + 1e-9)
    table = np.zeros((codes.shape[1], len(FACTORS)))
    shape = np.rint(factors[:, 0] * 2).astype(int)
    means = np.stack([z[shape == s].mean(0) for s in range(len(SHAPES))])           # (shapes, latents)
    counts = np.bincount(shape, minlength=len(SHAPES))[:, None]
    table[:, 0] = np.sqrt((counts * means ** 2).sum(0) / len(z))                    # eta: between / total spread
    f = (factors[:, 1:] - factors[:, 1:].mean(0)) / factors[:, 1:].std(0)
    table[:, 1:] = np.abs(z.T @ f) / len(z)
    return table


def encode(model, variables, images: np.ndarray) -> np.ndarray:
    """Posterior means (N, latent_dim) of `images`, in batches."""
    apply = jax.jit(lambda x: model.apply(variables, x, method="encode")[0])
    return np.concatenate([np.asarray(apply(jnp.asarray(images[i:i + 500]))) for i in range(0, len(images), 500)])


def traversals(model, variables, image: np.ndarray, latents: list[int]) -> np.ndarray:
    """(len(latents), len(TRAVERSAL), H, W): `image` decoded with one latent of its code replaced by each value."""
    code = encode(model, variables, image[None])[0]
    codes = np.repeat(code[None, None], len(TRAVERSAL), 1).repeat(len(latents), 0)
    for row, j in enumerate(latents):
        codes[row, :, j] = TRAVERSAL
    logits = jax.jit(lambda z: model.apply(variables, z, method="decode"))(jnp.asarray(codes.reshape(-1, len(code))))
    return np.asarray(jax.nn.sigmoid(logits))[..., 0].reshape(len(latents), len(TRAVERSAL), *image.shape[:2])


def main(argv):
    del argv
    quiet_orbax_logs()
    output_dir, workdir = report.output_dir(__file__), Path(FLAGS.workdir)
    test = data.load("shapes", "test").read(np.arange(len(data.load("shapes", "test"))))
    images, factors = test["input"].reshape(-1, *test["input"].shape[2:]), test["factors"].reshape(-1, len(FACTORS))
    owned = np.cumsum((0, *config_lib.load("configs/inverse_graphics.py:dcign").task.kwargs.latents_per_factor))
    rows, tables, pictures = [], {}, {}
    for name in RUNS:
        config = config_lib.load(f"configs/inverse_graphics.py:{name}" + (f",{FLAGS.variant}" if FLAGS.variant else ""))
        results = trainer.train_and_evaluate(config, workdir / name)
        model = models.get(config.model.name, **config.model.kwargs)
        variables = load_variables(workdir / name)
        table = tables[name] = scores(encode(model, variables, images), factors)
        chosen = []
        for k, factor in enumerate(FACTORS):
            if name == "dcign":      # the latents DC-IGN gave the factor; the best of them
                block = np.arange(owned[k], owned[k + 1])
                best = int(block[np.argmax(table[block, k])])
            else:
                best = int(np.argmax(table[:, k]))
            chosen.append(best)
            others = np.delete(table[best], k)
            rows.append({"model": name, "factor": factor, "latent": best, "score": f"{table[best, k]:.3f}",
                         "best_other_factor": f"{others.max():.3f}", "latents_following": int((table[:, k] > FOLLOWS).sum()),
                         "validation_neg_elbo": f"{results['validation_neg_elbo']:.1f}"})
            logging.info("%s %s: latent %d scores %.3f", name, factor, best, table[best, k])
        pictures[name] = (traversals(model, variables, images[3], chosen), chosen)
    report.write_rows(output_dir / "results.csv", rows)

    fig = plt.figure(figsize=(13, 8.5))
    grid = fig.add_gridspec(2, 2, width_ratios=(1, 2.4), hspace=0.35, wspace=0.15)
    for i, name in enumerate(RUNS):
        ax = fig.add_subplot(grid[i, 0])
        im = ax.imshow(tables[name].T, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set(xticks=range(tables[name].shape[0]), yticks=range(len(FACTORS)), yticklabels=FACTORS,
               xlabel="latent", title=f"{RUNS[name]}: score of each latent with each factor")
        fig.colorbar(im, ax=ax, fraction=0.05)
        sub = grid[i, 1].subgridspec(len(FACTORS), len(TRAVERSAL), wspace=0.05, hspace=0.05)
        cells = np.array([[fig.add_subplot(sub[r, c]) for c in range(len(TRAVERSAL))] for r in range(len(FACTORS))])
        traversed, chosen = pictures[name]
        image_grid(cells, traversed, row_labels=[f"{f}\nz{j}" for f, j in zip(FACTORS, chosen)],
                   column_labels=[f"{t:+.1f}" for t in TRAVERSAL])
    fig.suptitle("DC-IGN vs a VAE of the same network: does one latent follow one factor? (right: the latent chosen "
                 "for each factor moved over -2.5..2.5)", fontsize=11)
    fig.savefig(output_dir / "inverse_graphics.png", dpi=100, bbox_inches="tight")
    plt.close(fig)

    lines = ["# Deep convolutional inverse graphics network vs VAE: latents against known factors", "",
             "The same network (dcign_shapes, 10 latents) trained as DC-IGN (groups in which one factor varies, the "
             "other factors' latents clamped; Kulkarni et al. 2015) and as a plain VAE, on generated 32 x 32 shapes. "
             "Score of a latent with a factor on the 4,800 test images: |Pearson r| (scale, rotation, x, y), the "
             "correlation ratio eta (shape). Latent: for DC-IGN the best of those it gave the factor, for the VAE the "
             "best of all ten; best other factor: that latent's score with any other factor (low: it follows one "
             "factor only); latents following: how many of the ten score over 0.5 with the factor. Regenerate with "
             "`python experiments/inverse_graphics.py --update_results`.", "",
             *report.markdown_table(rows), "", "![inverse graphics](inverse_graphics.png)", ""]
    (output_dir / "results.md").write_text("\n".join(lines))
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    cli.run(main)

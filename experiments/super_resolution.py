"""Super-resolution 4x: SRResNet and SRGAN (Ledig et al. 2017) against bicubic interpolation, on photographs that no
training crop came from.

Two runs (configs/super_resolution.py): SRResNet trained by pixel MSE on 48 x 48 crops of fourteen photographs
shipped with scikit-image and scikit-learn (deepzoo/data/photos.py), its output added to the input's bicubic
enlargement (VDSR's residual learning: a short training then starts from bicubic's quality), then SRGAN started
from it, trained with the adversarial loss of its discriminator added (weight 1e-3, MSE content: the paper's
SRGAN-MSE, as their VGG loss needs ImageNet weights). Each held-out photograph (astronaut, chelsea, coffee, flower) is reduced 4x by PIL's bicubic
filter and enlarged back by each method, whole; the table gives PSNR and SSIM on the luminance channel with 4 border
pixels shaved, as the paper's Table 2, beside its Set5/Set14 figures. super_resolution.png: the most detailed
80 x 80 region of each photograph, as each method enlarged it.

    python experiments/super_resolution.py                    # about an hour on 2 CPU cores
    python experiments/super_resolution.py --variant=small    # an eighth of the steps, ~9 minutes

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
from deepzoo import cli, models, report  # noqa: E402
from deepzoo import config as config_lib  # noqa: E402
from deepzoo.data import photos  # noqa: E402
from deepzoo.plots.images import grid as image_grid  # noqa: E402
from deepzoo.tasks.image_quality import y_psnr_ssim  # noqa: E402
from deepzoo.tasks.super_resolution import to_image  # noqa: E402
from deepzoo.train import trainer  # noqa: E402
from deepzoo.train.checkpoint import load_variables, quiet_orbax_logs  # noqa: E402

RUNS = ("srresnet", "srgan")
METHODS = {"bicubic": "bicubic", "srresnet": "SRResNet", "srgan": "SRGAN"}
# Ledig et al. 2017, Table 2, 4x: (PSNR, SSIM) on Set5 and Set14.
PAPER = {"bicubic": ((28.43, 0.8211), (25.99, 0.7486)), "srresnet": ((32.05, 0.9019), (28.49, 0.8184)),
         "srgan": ((29.40, 0.8472), (26.02, 0.7397))}
REGION = 80                   # pixels of each photograph's region in the figure

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/super_resolution", "Run directories, one per model (resumable).")
flags.DEFINE_string("variant", "", "Config option appended to each run: 'small', or 'smoke' for tests.")
report.define_flags()


def enlarge_with(model, variables, low: np.ndarray) -> np.ndarray:
    """uint8 (h, w, 3) -> uint8 (4h, 4w, 3) by the model's generator, the whole photograph at once."""
    high = jax.jit(lambda v, x: model.apply(v, x, method="generate"))(variables, jnp.asarray(low[None] / np.float32(255)))
    return np.asarray(jnp.round(to_image(high)[0] * 255)).astype(np.uint8)


def detailed_region(image: np.ndarray, size: int = REGION) -> tuple[int, int]:
    """(y, x) of the size x size window (on a grid of size / 2) where the luminance varies most."""
    grey = image.mean(-1)
    step = size // 2
    spots = [(y, x) for y in range(0, image.shape[0] - size + 1, step) for x in range(0, image.shape[1] - size + 1, step)]
    return max(spots, key=lambda p: np.abs(np.diff(grey[p[0]:p[0] + size, p[1]:p[1] + size], axis=1)).mean())


def main(argv):
    del argv
    quiet_orbax_logs()
    output_dir, workdir = report.output_dir(__file__), Path(FLAGS.workdir)
    option = f",{FLAGS.variant}" if FLAGS.variant else ""
    originals = photos.photographs("test")
    lows = {name: photos.reduce(image) for name, image in originals.items()}
    enlarged = {"bicubic": {name: photos.enlarge(low) for name, low in lows.items()}}
    results = {}
    for name in RUNS:
        config = config_lib.load(f"configs/super_resolution.py:{name}{option}")
        if name == "srgan":
            config.init_from.workdir = str(workdir / "srresnet")
        results[name] = trainer.train_and_evaluate(config, workdir / name)
        model = models.get(config.model.name, **config.model.kwargs)
        variables = load_variables(workdir / name)
        enlarged[name] = {photo: enlarge_with(model, variables, low) for photo, low in lows.items()}

    rows, quality = [], {}
    for method, label in METHODS.items():
        for photo, original in originals.items():
            psnr, ssim = y_psnr_ssim(jnp.asarray(enlarged[method][photo][None] / np.float32(255)),
                                     jnp.asarray(original[None] / np.float32(255)), border=photos.SCALE)
            quality[method, photo] = (float(psnr[0]), float(ssim[0]))
        (set5_psnr, set5_ssim), (set14_psnr, set14_ssim) = PAPER[method]
        row = {"method": label,
               "psnr": f"{np.mean([quality[method, p][0] for p in originals]):.2f}",
               "ssim": f"{np.mean([quality[method, p][1] for p in originals]):.4f}",
               **{f"psnr_{p}": f"{quality[method, p][0]:.2f}" for p in originals},
               "paper_set5": f"{set5_psnr:.2f} / {set5_ssim:.4f}", "paper_set14": f"{set14_psnr:.2f} / {set14_ssim:.4f}",
               "steps": results[method]["step"] if method in results else ""}
        rows.append(row)
        logging.info("%s: PSNR %s dB, SSIM %s", label, row["psnr"], row["ssim"])
    report.write_rows(output_dir / "results.csv", rows)

    columns = [*METHODS, "original"]
    regions = {photo: detailed_region(image) for photo, image in originals.items()}
    cells = np.stack([np.stack([(originals if m == "original" else enlarged[m])[photo][y:y + REGION, x:x + REGION]
                                for m in columns]) for photo, (y, x) in regions.items()]) / 255
    fig, axes = plt.subplots(len(originals), len(columns), figsize=(2.3 * len(columns), 2.4 * len(originals)),
                             squeeze=False)
    image_grid(axes, cells, row_labels=list(originals), column_labels=[*METHODS.values(), "original"], fontsize=10)
    for r, photo in enumerate(originals):
        for c, method in enumerate(METHODS):
            axes[r, c].set_xlabel("{:.2f} dB / {:.3f}".format(*quality[method, photo]), fontsize=8)
    fig.suptitle("4x super-resolution of photographs never seen in training\n(PSNR / SSIM of the whole "
                 "photograph's luminance under each crop)", fontsize=11)
    fig.tight_layout()
    fig.savefig(output_dir / "super_resolution.png", dpi=100)
    plt.close(fig)

    lines = ["# Super-resolution 4x: SRResNet and SRGAN against bicubic interpolation", "",
             "SRResNet (16 residual blocks, sub-pixel upsampling, 1.55M parameters) trained by pixel MSE on 48 x 48 "
             "crops of fourteen photographs shipped with scikit-image and scikit-learn, its output added to the input's "
             "bicubic enlargement (VDSR's residual learning, not the paper's: trained from scratch for as few updates, "
             "the paper's network stayed 9 dB below bicubic interpolation); SRGAN started from it and "
             "trained with the adversarial loss added (weight 1e-3) and the MSE as content loss: the paper's SRGAN-MSE, "
             "since its VGG-19 feature loss needs ImageNet weights. Tested on four other photographs (astronaut, "
             "chelsea, coffee, flower), each reduced 4x by PIL's bicubic filter and enlarged whole: PSNR (dB) and SSIM "
             "on the luminance channel, 4 border pixels shaved, the mean over the four (and PSNR per photograph). "
             "The paper's figures are on other images (Set5, Set14) after 10^6 updates on 350,000 ImageNet images; "
             f"ours after {results['srresnet']['step']:,} and {results['srgan']['step']:,} updates on 8,000 crops. "
             "Regenerate with `python experiments/super_resolution.py --update_results`.", "",
             *report.markdown_table(rows), "", "![super-resolution](super_resolution.png)", ""]
    (output_dir / "results.md").write_text("\n".join(lines))
    print((output_dir / "results.md").read_text())


if __name__ == "__main__":
    cli.run(main)

"""The deep convolutional inverse graphics network (Kulkarni et al. 2015) and the same network trained as a plain
VAE, on generated shapes whose five factors are known (deepzoo/data/shapes.py):

    python -m deepzoo.main --config=configs/inverse_graphics.py:dcign --workdir=runs/inverse_graphics/dcign

Variants: "dcign" (mini-batches of groups in which one factor varies; the other factors' latents clamped to the
group's mean: deepzoo/tasks/inverse_graphics.py) and "vae" (the same images, each on its own). The model is
dcign_shapes with 10 latents: 6 for the shape, one each for scale, rotation, x and y. Adam 1e-3 (the paper used
RMSProp; Adam trains these VAEs more reliably), 16 groups of 8 images per step. Options: ",small" (a third of the
steps), ",smoke" (a few steps, for tests). experiments/inverse_graphics.py runs both and measures their codes.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

LATENTS_PER_FACTOR = (6, 1, 1, 1, 1)      # shape, scale, rotation, x, y (deepzoo/data/shapes.py FACTORS)


def get_config(arg: str | None = None):
    variant, options = parse_arg(arg, variants=("dcign", "vae"), options=("small", "smoke"), default="dcign")
    config = common.supervised()

    config.dataset.name = "shapes"               # generated in memory, deterministic
    config.dataset.eval_split = "validation"

    config.model = ml_collections.ConfigDict()
    config.model.name = "dcign_shapes"
    config.model.kwargs = ml_collections.ConfigDict(dict(latent_dim=sum(LATENTS_PER_FACTOR)))

    config.task = ml_collections.ConfigDict()
    config.task.name = "inverse_graphics"
    config.task.kwargs = ml_collections.ConfigDict(dict(latents_per_factor=LATENTS_PER_FACTOR,
                                                        clamp=variant == "dcign"))

    config.optimizer.update(name="adam", learning_rate=1e-3, schedule="cosine", **common.ADAM)
    config.batch_size = 16                       # groups of 8 images: 128 images a step
    config.eval_batch_size = 200
    config.num_train_steps = 3000                # 8 passes over the 6,000 training groups
    config.log_every_steps = 100
    config.eval_every_steps = 1000
    config.checkpoint_every_steps = 1000
    config.keep_checkpoints = 1

    if "small" in options:
        common.shorten(config, config.num_train_steps // 3)
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 4, 2, 4
        config.checkpoint_every_steps = 4
        config.batch_size = 8
        config.model.kwargs.update(features=(8, 8, 8), hidden=16)
    return config

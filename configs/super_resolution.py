"""SRResNet and SRGAN (Ledig et al. 2017), 4x, on crops of photographs shipped offline (deepzoo/data/photos.py):
    python -m deepzoo.main --config=configs/super_resolution.py:srresnet --workdir=runs/super_resolution/srresnet

Variants:
  srresnet  the generator alone, by pixel MSE
  srgan     the generator started from the srresnet run (config.init_from.workdir) and its discriminator, the
            generator's loss MSE + 1e-3 x the adversarial loss (the paper's SRGAN-MSE; deepzoo/tasks/super_resolution.py)
The generator adds its output to the input's bicubic enlargement (bicubic_skip, VDSR's residual learning): trained
from scratch for 4,000 steps as the paper's, it stayed below bicubic interpolation on the test photographs (19.9 dB
against 29.1; on its training crops it just reached bicubic's error), far from the paper's 10^6 updates.
As the paper: batches of 16 crops, Adam (beta1 0.9) at 1e-4, SRGAN's rate cut to 1e-5 for its second half; but crops
of 48 x 48 (theirs 96 x 96) and far fewer updates (theirs 10^6 and 2 x 10^5) on 2 CPU cores.
Options: ",small" (an eighth of the steps), ",smoke" (a few steps on a narrow network, for tests).
experiments/super_resolution.py runs both and compares them with bicubic interpolation on the held-out photographs.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

STEPS = {"srresnet": 4000, "srgan": 2000}
CROP = 48                                      # high-resolution crops of photos_x4's training split


def get_config(arg: str | None = None):
    variant, options = parse_arg(arg, variants=tuple(STEPS), options=("small", "smoke"), default="srresnet")
    config = common.supervised()

    config.dataset.name = "photos_x4"          # made in memory from the packages' photographs, deterministic
    config.dataset.eval_split = "test"         # tiles of the photographs never cropped for training

    config.model = ml_collections.ConfigDict(dict(name="srgan", kwargs=ml_collections.ConfigDict(
        dict(image_size=CROP, blocks=16, bicubic_skip=True))))
    config.task = ml_collections.ConfigDict(dict(name="super_resolution", kwargs=ml_collections.ConfigDict(
        dict(adversarial_weight=1e-3 if variant == "srgan" else 0.0, scale=4))))

    config.optimizer.update(name="adam", learning_rate=1e-4, **common.ADAM)
    config.batch_size = 16
    config.eval_batch_size = 88                # the 85 test tiles in one padded batch, a multiple of 8 devices
    config.num_train_steps = STEPS[variant]
    if variant == "srgan":
        config.optimizer.update(schedule="step", decay_every_steps=STEPS[variant] // 2, decay_factor=0.1)
        config.init_from.update(workdir="runs/super_resolution/srresnet", layers=("generator",))
    config.log_every_steps = 100
    config.eval_every_steps = 500
    config.checkpoint_every_steps = 500
    config.keep_checkpoints = 1
    config.reference = ("Ledig et al. 2017, Table 2 (4x, Set5 / Set14): PSNR bicubic 28.43 / 25.99, SRResNet "
                        "32.05 / 28.49, SRGAN 29.40 / 26.02 dB; SSIM 0.8211 / 0.7486, 0.9019 / 0.8184, 0.8472 / 0.7397")

    if "small" in options:
        common.shorten(config, config.num_train_steps // 8)
        if variant == "srgan":
            config.optimizer.decay_every_steps = config.num_train_steps // 2
            config.init_from.workdir = "runs/super_resolution/srresnet_small"
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 2, 1, 2
        config.checkpoint_every_steps = 2
        config.batch_size, config.eval_batch_size = 8, 88
        config.model.kwargs.blocks = 1
        if variant == "srgan":
            config.optimizer.decay_every_steps = 1
            config.init_from.workdir = ""      # the experiment points it at its smoke srresnet run
    return config

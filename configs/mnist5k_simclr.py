"""SimCLR contrastive pre-training on the 4,000 MNIST-5k training digits, labels unused.

    python -m deepzoo.main --config=configs/mnist5k_simclr.py --workdir=runs/simclr/pretrain
    python experiments/simclr.py              # pre-trains, then linear probes against a random encoder

Chen et al. 2020's recipe scaled to two CPU cores: two views per digit (crop 50-100% of the area and
resize, brightness and contrast jitter), NT-Xent at temperature 0.5, batch 128 (254 negatives per
view; they used 4,096 with LARS), AdamW 1e-3 with warm-up and cosine decay and weight decay 1e-6 (the
paper's), 1,000 steps (32 epochs). The encoder is deepzoo/models/simclr.py's 4-layer CNN; ",small": 300
steps; ",smoke": a few steps.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg


def get_config(arg: str | None = None):
    _, options = parse_arg(arg, variants=("",), options=("smoke", "small"))
    config = common.supervised()
    config.dataset.name = "mnist5k"
    config.model = ml_collections.ConfigDict(dict(name="simclr_mnist", kwargs=ml_collections.ConfigDict(dict(
        widths=(32, 64, 128, 128), strides=(1, 2, 2, 1), projection_dim=64, dtype="float32"))))
    config.task = ml_collections.ConfigDict(dict(name="contrastive", kwargs=dict(
        temperature=0.5, min_area=0.5, brightness=0.2, contrast=0.4, eval_seed=0)))
    config.optimizer.update(name="adamw", learning_rate=1e-3, schedule="cosine", warmup_steps=100, **common.ADAM)
    config.optimizer.weight_decay = 1e-6
    config.batch_size = 128
    config.num_train_steps = 1000
    config.log_every_steps = 50
    config.checkpoint_every_steps = 500
    config.keep_checkpoints = 1
    if "small" in options:
        common.shorten(config, 300)
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 4, 2, 4
        config.checkpoint_every_steps = 4
        config.batch_size = 16
        config.model.kwargs.widths = (8, 8, 16, 16)
    return config

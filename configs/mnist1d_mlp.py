"""MLP on MNIST-1D, the quick start: python -m deepzoo.main --config=configs/mnist1d_mlp.py --workdir=runs/mnist1d_mlp

Hyperparameters follow the MNIST-1D reference MLP (Greydanus 2020, "Scaling down deep learning",
github.com/greydanus/mnist1d: 40-100-100-10 ReLU network, Adam 1e-2, batch 100, 6000 steps), whose
README reports 68% test accuracy for the MLP (logistic regression 32%, CNN 94%).

Variants (the arg after the colon):
  configs/mnist1d_mlp.py            the reference MLP
  configs/mnist1d_mlp.py:smoke      a few hundred steps, for tests and a first look
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg


def get_config(arg: str | None = None):
    _, options = parse_arg(arg, variants=("",), options=("smoke",))
    config = common.supervised()

    config.dataset.name = "mnist1d"            # prepared offline on first use (deepzoo/data/builders.py)
    config.dataset.train_split = "train"       # 4,000 examples
    config.dataset.eval_split = "test"         # 1,000 examples
    config.dataset.cache = True                # 4,000 x 40 floats: hold the split in memory

    config.model = ml_collections.ConfigDict()
    config.model.name = "mlp"
    config.model.kwargs = ml_collections.ConfigDict(dict(
        depth=2, width=100, num_outputs=10,    # mnist1d reference: hidden_size=100, two hidden layers
        activation="relu", dropout_rate=0.0, batch_norm=False,
        dtype="float32"))                      # "bfloat16" computes in bf16 with f32 parameters

    config.task = ml_collections.ConfigDict()
    config.task.name = "classification"
    config.task.kwargs = ml_collections.ConfigDict(dict(label_smoothing=0.0))

    config.optimizer.name = "adam"             # mnist1d reference: Adam
    config.optimizer.learning_rate = 1e-2      # mnist1d reference
    config.optimizer.schedule = "constant"     # mnist1d reference: no schedule
    config.optimizer.update(common.ADAM)
    config.optimizer.weight_decay = 0.0        # mnist1d reference: weight_decay=0

    config.batch_size = 100                    # mnist1d reference
    config.num_train_steps = 6000              # mnist1d reference: total_steps=6000
    config.checkpoint_every_steps = 2000

    config.reference = "MNIST-1D authors' MLP: 68% test accuracy (github.com/greydanus/mnist1d README)"

    if "smoke" in options:
        config.num_train_steps = 300
        config.log_every_steps = 50
        config.eval_every_steps = 100
        config.checkpoint_every_steps = 100
    return config

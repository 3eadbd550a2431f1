"""Kohonen's self-organising map on scikit-learn's 8x8 digits:
python -m deepzoo.main --config=configs/som.py --workdir=runs/som

A 10 x 10 map (Kohonen 1982) learns by the library's one train step: the SOM task's loss is the
neighbourhood-weighted quantisation error, whose SGD step is Kohonen's update (deepzoo/tasks/som.py). The
neighbourhood radius shrinks exponentially from 5 (half the grid) to 0.5 units over the run; the learning
rate falls linearly from 0.5 to 0, through the optimizer's schedule (Kohonen: a large rate and radius to
order the map, small ones to tune it). Batches of 8, the mean of their updates. The labels are not used in
training; experiments/som.py reads them afterwards to name the units.

Variants (the arg after the colon):
  configs/som.py          4,000 steps (22 epochs of the 1,437 training digits)
  configs/som.py:small    1,000 steps (common.shorten: the same recipe, the radius shrinking over the shorter run)
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg


def get_config(arg: str | None = None):
    _, options = parse_arg(arg, variants=("",), options=("small",))
    config = common.supervised()

    config.dataset.name = "digits"             # 1,437 train / 360 test 8x8 digits, values scaled to [0, 1]
    config.dataset.train_split = "train"
    config.dataset.eval_split = "test"

    config.model = ml_collections.ConfigDict()
    config.model.name = "som"
    config.model.kwargs = ml_collections.ConfigDict(dict(rows=10, cols=10, init_scale=1.0))

    config.task = ml_collections.ConfigDict()
    config.task.name = "som"
    config.task.kwargs = ml_collections.ConfigDict(dict(sigma0=5.0, sigma_end=0.5, decay="exponential",
                                                        num_steps=4000))

    config.optimizer.name = "sgd"              # the update is Kohonen's only under plain SGD
    config.optimizer.momentum = 0.0
    config.optimizer.learning_rate = 0.5
    config.optimizer.schedule = "linear"       # to 0 at the last step

    config.batch_size = 8
    config.eval_batch_size = 360
    config.num_train_steps = 4000
    config.log_every_steps = 100
    config.eval_every_steps = 200
    config.checkpoint_every_steps = 4000

    if "small" in options:
        common.shorten(config, 1000)
    config.task.kwargs.num_steps = config.num_train_steps   # the radius reaches sigma_end at the run's end
    return config

"""Deep double descent on MNIST-1D (Nakkiran et al. 2019, https://arxiv.org/abs/1912.02292), on 2 CPU cores.

    python -m deepzoo.main --config=configs/double_descent.py:mlp --workdir=runs/double_descent
    python experiments/double_descent.py      # every variant below, then the figures and the report

A sweep (config.sweep) trains one trial per point of its grid (width x label noise x seed, here), many
at once in one compiled program (deepzoo/train/sweep.py). Variants:
  mlp       model-wise: MLP 40 -> h -> h -> 10, h on a geometric grid from 2 to 300, 4,000 training
            examples, 0% and 15% label noise, 3 seeds. The MNIST-1D authors (Greydanus 2020, "Scaling
            down deep learning") report the test-error peak near h = 47, where the parameters
            (h^2 + 52 h + 10 = 4,903) are about the number of training examples.
  cnn       the same with Nakkiran et al.'s five-layer CNN (1-D, channels k, 2k, 4k, 8k), k from 1 to 12
            (the threshold, 4,000 parameters, is at k ~ 5), one seed.
  samples   sample-wise: the MLP width sweep at 1,000, 2,000 and 4,000 training examples, 15% noise
            (the threshold moves with n, so near it more data can hurt); it shares mlp's directory,
            whose trials at 4,000 examples it reuses.
  smoke     a few widths and epochs, for tests.
Option ",small": one seed and 2/5 of the epochs, under its own sweep name (the curves keep their shape).
Every trial's evaluations every few epochs give the epoch-wise curves.

Training, after Nakkiran et al. (their SGD runs: momentum 0.9, batch 128, no weight decay, no
augmentation) scaled to MNIST-1D: SGD with momentum 0.9, learning rate 0.05 with cosine decay, batch
100, 1,000 epochs (60 for the CNN), long enough that every width past the threshold fits the noisy
labels exactly.
"""
import ml_collections
import numpy as np

from configs import common
from deepzoo.config import parse_arg

# 16 widths on a geometric grid from 2 to 300 (each ~1.4x the previous one).
MLP_WIDTHS = tuple(sorted({int(round(w)) for w in np.geomspace(2, 300, 16)}))


def get_config(arg: str | None = None):
    variant, options = parse_arg(arg, variants=("mlp", "cnn", "samples", "smoke"), options=("small",), default="mlp")
    config = common.supervised()            # each trial is a supervised run (deepzoo/train/trainer.py)
    config.program = "sweep"  # the kind of run: supervised | sweep | agent (deepzoo/main.py)
    config.dataset.update(name="mnist1d", train_examples=4000, subset_seed=0, label_noise=0.0)

    config.model = ml_collections.ConfigDict(dict(name="mlp", kwargs=ml_collections.ConfigDict(dict(
        depth=2, width=100, num_outputs=10, activation="relu", dropout_rate=0.0, batch_norm=False,
        dtype="float32"))))
    config.task = ml_collections.ConfigDict(dict(name="classification", kwargs=dict(label_smoothing=0.0)))
    config.optimizer = ml_collections.ConfigDict(dict(
        name="sgd", learning_rate=0.05, momentum=0.9, nesterov=False, schedule="cosine", warmup_steps=0,
        weight_decay=0.0, grad_clip_norm=0.0))
    config.batch_size = 100
    # Counted in epochs of each trial's own training set (num_train_steps and *_every_steps do not apply).
    config.num_epochs = 1000
    config.log_every_epochs = 10               # a sweep trains in chunks of this many epochs
    config.eval_every_epochs = 10
    config.checkpoint_every_epochs = 100
    config.keep_checkpoints = 2

    config.sweep = ml_collections.ConfigDict(dict(
        name="mlp_width",
        # The grid (tuples: --config.sweep.axes.seed='(0, 1)' overrides one), trained where it can be in one
        # vmapped program: seeds, label noise and zero-padded widths are arrays in it.
        axes=dict(model=dict(kwargs=dict(width=MLP_WIDTHS)), dataset=dict(label_noise=(0.0, 0.15)), seed=(0, 1, 2)),
        tied=dict(dataset=dict(subset_seed="seed")),  # each seed its own 4,000 examples and noisy labels
        padded=("model.kwargs.width",),               # widths max_pad_ratio apart share one program
        max_pad_ratio=1.5,
        shard="",                                     # "i/n": run every n-th group only (one job of n)
    ))
    config.reference = ("MNIST-1D (Greydanus 2020): test-error peak near h = 47 with 15% label noise, "
                        "4,000 training examples; Nakkiran et al. 2019: the peak sits at the interpolation "
                        "threshold and grows with label noise")

    if variant == "cnn":
        config.model = ml_collections.ConfigDict(dict(name="cnn5", kwargs=ml_collections.ConfigDict(dict(
            width=8, num_classes=10, dtype="float32"))))
        # XLA:CPU's convolutions under vmap cost ~1 s per trial-epoch at k = 8: one seed, 60 epochs.
        config.sweep.update(name="cnn_width")
        config.sweep.axes.model.kwargs.width = (1, 2, 3, 4, 6, 8, 12)
        config.sweep.axes.seed = (0,)
        config.update(num_epochs=60, log_every_epochs=3, eval_every_epochs=3, checkpoint_every_epochs=15)
    elif variant == "samples":
        # The same directory as "mlp": its 4,000-example trials are done already and are not rerun.
        config.sweep.axes.dataset = ml_collections.ConfigDict(dict(label_noise=(0.15,),
                                                                   train_examples=(1000, 2000, 4000)))
    elif variant == "smoke":
        config.sweep.update(name="smoke")
        config.sweep.axes.model.kwargs.width = (4, 8, 16)
        config.sweep.axes.seed = (0, 1)
        config.dataset.train_examples = 400
        config.update(num_epochs=6, log_every_epochs=2, eval_every_epochs=2, checkpoint_every_epochs=2,
                      batch_size=50, eval_batch_size=256)
    if "small" in options:  # 2 / 5 of the epochs: 8.8 min for the three sweeps on 2 CPU cores
        config.sweep.name += "_small"
        config.sweep.axes.seed = (0,)
        config.update(num_epochs=config.num_epochs * 2 // 5, log_every_epochs=max(1, config.log_every_epochs * 2 // 5),
                      eval_every_epochs=max(1, config.eval_every_epochs * 2 // 5),
                      checkpoint_every_epochs=max(1, config.checkpoint_every_epochs * 2 // 5))
    return config

"""Show, Attend and Tell on MNIST composites: 2-4 real digits side by side, captioned in English words.

    python -m deepzoo.main --config=configs/mnist_captions.py --workdir=runs/captions
    python experiments/captioning.py        # trains it, exact match, attention maps over the image

A small convolutional encoder gives a grid of annotation vectors; an LSTM decoder with soft (additive)
attention over the grid writes "four thousand one hundred and twelve" word by word (Xu et al. 2015).
Options: 'small' (1,000 steps) and 'smoke' (a few steps, for tests).
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg


def get_config(arg: str | None = None):
    _, options = parse_arg(arg, variants=("",), options=("smoke", "small"))
    config = common.supervised()

    config.dataset.name = "mnist_captions"      # prepared offline on first use (deepzoo/data/builders.py)
    config.dataset.train_split = "train"        # composites of the 4,000 MNIST-5k training digits
    config.dataset.eval_split = "test"          # composites of the 1,000 test digits
    config.dataset.max_length = 12              # words, EOS included: "seven thousand seven hundred and
                                                # seventy seven" is 7

    config.model = ml_collections.ConfigDict()
    config.model.name = "show_attend_tell_mnist"
    config.model.kwargs = ml_collections.ConfigDict(dict(dropout_rate=0.1, dtype="float32"))

    config.task = ml_collections.ConfigDict()
    config.task.name = "seq2seq"
    config.task.kwargs = ml_collections.ConfigDict(dict(source_key="image", label_smoothing=0.0,
                                                        eval_decode_length=12))

    config.optimizer.update(name="adam", learning_rate=1e-3, schedule="cosine", warmup_steps=100, **common.ADAM)
    config.optimizer.grad_clip_norm = 1.0

    config.batch_size = 64
    config.num_train_steps = 3000
    config.eval_batch_size = 500
    config.eval_every_steps = 1000
    config.keep_checkpoints = 2
    config.reference = "Xu et al. 2015: soft attention learns where to look, word by word"

    if "small" in options:
        common.shorten(config, 1000)
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 4, 2, 4
        config.checkpoint_every_steps = 4
        config.batch_size, config.eval_batch_size = 16, 1000
        config.optimizer.warmup_steps = 1
    return config

"""One hidden layer of sigmoid units trained by backpropagation on scikit-learn's 8x8 digits or MNIST-5k:
the baseline that experiments/elm.py sets beside the extreme learning machine of the same width (Huang,
Zhu & Siew 2006 compare their ELM with sigmoid networks trained by backpropagation).

    python -m deepzoo.main --config=configs/one_hidden_layer.py:mnist5k --workdir=runs/one_hidden_layer

Variants: digits (1,437 training digits of 8x8), mnist5k (4,000 of 28x28); optionally ",smoke" (a few steps).
Width 1,000 (the experiment sets each width it compares); Adam 3e-3 with a cosine decay, batch 128, 100 epochs
(30 epochs of Adam 1e-3 left it 2-6 points lower: 91.6% on MNIST-5k and 90.8% on the digits at width 500).
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

TRAIN_EXAMPLES = {"digits": 1437, "mnist5k": 4000}


def get_config(arg: str | None = None):
    dataset, options = parse_arg(arg, variants=tuple(TRAIN_EXAMPLES), options=("smoke",), default="mnist5k")
    config = common.supervised()
    config.dataset.name = dataset              # both prepared offline on first use (deepzoo/data/builders.py)

    config.model = ml_collections.ConfigDict(dict(name="mlp", kwargs=ml_collections.ConfigDict(dict(
        depth=1, width=1000, num_outputs=10, activation="sigmoid", dropout_rate=0.0, batch_norm=False,
        dtype="float32"))))
    config.task = ml_collections.ConfigDict(dict(name="classification", kwargs=dict(label_smoothing=0.0)))
    config.optimizer.update(name="adam", learning_rate=3e-3, schedule="cosine", **common.ADAM)

    config.batch_size = 128
    config.num_train_steps = 100 * TRAIN_EXAMPLES[dataset] // config.batch_size
    config.log_every_steps = 50
    config.eval_every_steps = 0                # at the end only: the comparison is the final accuracy
    config.checkpoint_every_steps = config.num_train_steps
    config.keep_checkpoints = 1
    config.reference = ("Huang, Zhu & Siew 2006: the ELM generalises about as well as backpropagation at a "
                        "small fraction of its training time")
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.checkpoint_every_steps = 4, 2, 4
        config.batch_size = 16
    return config

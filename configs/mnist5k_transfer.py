"""Transfer learning with LeNet-5: features learned on MNIST digits 0-4 reused for new digits.

    python -m deepzoo.main --config=configs/mnist5k_transfer.py:pretrain --workdir=runs/transfer/pretrain
    python -m deepzoo.main --config=configs/mnist5k_transfer.py:frozen,digits59 --workdir=runs/transfer/x \\
        --config.init_from.workdir=runs/transfer/pretrain --config.dataset.train_examples=50
    python experiments/transfer.py            # every method and target at 10..1,000 training examples

arg: "pretrain" (LeNet-5 on the 2,000 training digits 0-4 of MNIST-5k, 5 classes), or
"<method>,<target>" with
  method  scratch    random initialisation
          finetune   c1..f6 from the pretrained run, every layer trained at the full rate
          lower_lr   c1..f6 from the pretrained run, c1, c3, c5 at a tenth of the rate
          frozen     c1..f6 from the pretrained run, c1, c3, c5 frozen (the feature extractor): only
                     f6 and the new output layer learn
  target  digits59   MNIST-5k digits 5-9 (relabelled 0-4), tested on their 500 test digits
          digits28   scikit-learn's 8x8 digits framed like MNIST's (all ten), tested on 360
The output layer always starts fresh. config.dataset.train_examples sets the (class-balanced) number
of training examples, 0 for all; config.init_from.workdir the pretrained run. ",smoke": a few steps.
Recipe: Adam 1e-3, batch 32, 300 steps whatever the training-set size.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

METHODS = ("scratch", "finetune", "lower_lr", "frozen")
TARGETS = {"digits59": dict(name="mnist5k", classes=(5, 6, 7, 8, 9), num_classes=5),
           "digits28": dict(name="digits28", classes=(), num_classes=10)}
FEATURES = ("c1", "c3", "c5")          # LeNet-5's convolutional feature extractor
TRANSFERRED = FEATURES + ("f6",)       # everything but the output layer


def get_config(arg: str | None = None):
    variants = ("pretrain", *(f"{method},{target}" for method in METHODS for target in TARGETS))
    variant, options = parse_arg(arg, variants=variants, options=("smoke",), default="pretrain")
    if variant == "pretrain":
        method, target = "scratch", dict(name="mnist5k", classes=(0, 1, 2, 3, 4), num_classes=5)
    else:
        method, target = variant.split(",")
        target = TARGETS[target]
    config = common.supervised()

    config.dataset.update(name=target["name"], classes=target["classes"], train_examples=0, subset_seed=0)
    config.model = ml_collections.ConfigDict(dict(name="lenet_mnist", kwargs=ml_collections.ConfigDict(dict(
        num_classes=target["num_classes"], dtype="float32"))))
    config.task = ml_collections.ConfigDict(dict(name="classification", kwargs=dict(label_smoothing=0.0)))
    config.optimizer.update(name="adam", learning_rate=1e-3, **common.ADAM)
    config.optimizer.layer_lr = {"frozen": {f: 0.0 for f in FEATURES},          # learning-rate multipliers
                                 "lower_lr": {f: 0.1 for f in FEATURES}}.get(method, {})
    config.init_from.update(workdir="" if method == "scratch" else "runs/transfer/pretrain",
                            layers=() if method == "scratch" else TRANSFERRED)
    config.batch_size = 32
    config.num_train_steps = 300
    config.eval_batch_size = 512
    config.eval_every_steps = 0
    config.checkpoint_every_steps = 300
    config.keep_checkpoints = 1
    if "smoke" in options:
        config.num_train_steps = config.log_every_steps = config.checkpoint_every_steps = 4
        config.batch_size = 16
    return config

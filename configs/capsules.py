"""The capsule network (Sabour, Frosst & Hinton 2017) and its baseline on the 5,000 MNIST digits, and on
overlapping digit pairs made from them (the paper's MultiMNIST):

    python -m deepzoo.main --config=configs/capsules.py:mnist5k,capsnet --workdir=runs/capsules/mnist5k_capsnet

Variants:
  mnist5k,capsnet          capsnet: 3 routing iterations, margin loss + 0.0005 x the reconstruction error
  mnist5k,capsnet_routing1 the same with 1 routing iteration (the paper's Table 1 ablation)
  mnist5k,cnn              capsnet_baseline_cnn: the paper's baseline layers, pooled to the capsule network's cost
  multi_mnist5k,capsnet    capsnet_multimnist on the 36 x 36 pairs: both digits present in the margin loss, each
                           reconstructed from its own capsule and compared with that digit alone
As the paper: Adam (learning rate 1e-3, here with a cosine decay), batches of 128, MNIST images shifted by up to
2 pixels; but 10 passes over the 4,000 digits and one over the 20,000 pairs (the capsule network takes 5.7 s a step
on 2 CPU cores), where the paper trained to convergence. Options: ",small" (a third of the steps), ",smoke" (a few steps, for tests).
experiments/capsules.py runs them all.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

VARIANTS = ("mnist5k,capsnet", "mnist5k,capsnet_routing1", "mnist5k,cnn", "multi_mnist5k,capsnet")
EPOCHS = {"mnist5k": 10, "multi_mnist5k": 1}                       # of 4,000 digits / 20,000 pairs
TRAIN_EXAMPLES = {"mnist5k": 4000, "multi_mnist5k": 20_000}


def get_config(arg: str | None = None):
    variant, options = parse_arg(arg, variants=VARIANTS, options=("small", "smoke"), default="mnist5k,capsnet")
    dataset, model = variant.split(",")
    config = common.supervised()

    config.dataset.name = dataset             # mnist5k: prepared offline on first use; pairs: made in memory
    config.dataset.eval_split = "test"
    if dataset == "mnist5k":
        config.dataset.augmentation = "shift"  # the pairs are shifted already

    config.model = ml_collections.ConfigDict()
    config.task = ml_collections.ConfigDict()
    if model == "cnn":
        config.model.name, config.model.kwargs = "capsnet_baseline_cnn", ml_collections.ConfigDict()
        config.task.name, config.task.kwargs = "classification", ml_collections.ConfigDict()
    else:
        config.model.name = "capsnet" if dataset == "mnist5k" else "capsnet_multimnist"
        config.model.kwargs = ml_collections.ConfigDict(dict(routing_iterations=1 if model == "capsnet_routing1" else 3))
        config.task.name = "capsule"
        config.task.kwargs = ml_collections.ConfigDict(
            dict(label_key="labels", targets=("first", "second")) if dataset == "multi_mnist5k" else {})

    config.batch_size = 128
    config.num_train_steps = EPOCHS[dataset] * TRAIN_EXAMPLES[dataset] // config.batch_size
    config.optimizer.update(name="adam", learning_rate=1e-3, schedule="cosine", **common.ADAM)
    config.eval_batch_size = 200
    config.log_every_steps = 25
    config.eval_every_steps = 0               # at the end only
    config.checkpoint_every_steps = 50
    config.keep_checkpoints = 1

    if "small" in options:
        common.shorten(config, config.num_train_steps // 3)
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.checkpoint_every_steps = 2, 1, 2
        config.batch_size = 8
        if model != "cnn":
            config.model.kwargs.update(conv_features=8, primary_types=2)
    return config

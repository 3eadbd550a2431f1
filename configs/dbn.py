"""A deep belief net on MNIST-5k (Hinton, Osindero & Teh 2006): greedy layer-wise RBM pre-training, then the
RBMs' weights as the start of a classifier, fine-tuned on few labels.

    python -m deepzoo.main --config=configs/dbn.py:rbm0 --workdir=runs/dbn/rbm0
    python -m deepzoo.main --config=configs/dbn.py:rbm1 --workdir=runs/dbn/rbm1
    python -m deepzoo.main --config=configs/dbn.py:finetune --workdir=runs/dbn/finetune_100 \\
        --config.dataset.train_examples=100
    python experiments/dbn.py        # all of it: 100 / 500 / 4,000 labels, pre-trained vs random, 3 seeds

Variants (optionally ",smoke" for a few steps):
  rbm0      the first RBM, 784-500, by CD-1 on the 4,000 training digits (binarised at 0.5), no labels
  rbm1      the second RBM, 500-500, by CD-1 on p(h | v) of the first (frozen: its learning rate is 0; it
            starts from config.init_from.workdir, the rbm0 run)
  finetune  a 784-500-500-10 sigmoid MLP whose hidden layers start from the two RBMs (W and the hidden
            biases c; config.init_from.workdir: the rbm1 run), trained by cross-entropy on
            config.dataset.train_examples labelled digits (0: all 4,000)
  scratch   the same MLP from a random initialisation (LeCun normal), the same recipe
RBMs: SGD with momentum 0.9, learning rate 0.05 decaying linearly to 0, weight cost 2e-4, batch 100, 2,000
updates (configs/rbm.py's cd1). Classifiers: Adam 1e-3, batch 50, 1,500 updates whatever the number of labels.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

SIZES = (784, 500, 500)
VARIANTS = ("rbm0", "rbm1", "finetune", "scratch")
PRETRAINED = ("hidden_0", "hidden_1")


def get_config(arg: str | None = None):
    name, options = parse_arg(arg, variants=VARIANTS, options=("smoke",), default="rbm0")
    config = common.supervised()
    config.dataset.update(name="mnist5k", train_examples=0, subset_seed=0)
    if name.startswith("rbm"):
        layer = int(name[-1])
        config.model = ml_collections.ConfigDict(dict(name="dbn_mnist", kwargs=ml_collections.ConfigDict(dict(
            sizes=SIZES, layer=layer, init_scale=0.01))))
        config.task = ml_collections.ConfigDict(dict(name="contrastive_divergence", kwargs=dict(
            steps=1, persistent=False, binarize=0.5, exact_max_hidden=20)))
        config.optimizer.update(name="sgd", learning_rate=0.05, momentum=0.9, weight_decay=2e-4, schedule="linear")
        config.optimizer.layer_lr = {f"hidden_{i}": 0.0 for i in range(layer)}   # the RBMs below stay fixed
        config.init_from.update(workdir="runs/dbn/rbm0" if layer else "",
                                layers=tuple(f"hidden_{i}" for i in range(layer)))
        config.batch_size, config.num_train_steps = 100, 2000
        config.eval_every_steps = 500
    else:
        config.model = ml_collections.ConfigDict(dict(name="mlp", kwargs=ml_collections.ConfigDict(dict(
            depth=len(SIZES) - 1, width=SIZES[1], num_outputs=10, activation="sigmoid", dtype="float32"))))
        config.task = ml_collections.ConfigDict(dict(name="classification", kwargs=dict(label_smoothing=0.0)))
        config.optimizer.update(name="adam", learning_rate=1e-3, **common.ADAM)
        config.init_from.update(workdir="runs/dbn/rbm1" if name == "finetune" else "",
                                layers=PRETRAINED if name == "finetune" else ())
        config.batch_size, config.num_train_steps = 50, 1500
        config.eval_every_steps = 0
    config.log_every_steps = 100
    config.checkpoint_every_steps = config.num_train_steps
    config.keep_checkpoints = 1
    config.reference = ("Hinton, Osindero & Teh 2006: a 784-500-500-2000 DBN, pre-trained greedily and fine-tuned, "
                        "1.25% test error on the full MNIST (60,000 labels)")
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 4, 2, 4
        config.checkpoint_every_steps = 4
        config.batch_size = 16
    return config

"""Binary restricted Boltzmann machines on MNIST-5k (pixels binarised at 0.5), trained by contrastive divergence.

    python -m deepzoo.main --config=configs/rbm.py:cd1 --workdir=runs/rbm/cd1
    python experiments/rbm.py        # every variant; test log-likelihood by AIS, filters, samples

Variants (optionally ",small" for a quarter of the steps, or ",smoke" for a few):
  cd1       784-500 RBM, CD-1 (Hinton 2002)
  cd10      784-500 RBM, CD-10
  pcd       784-500 RBM, persistent CD with 100 fantasy particles, one Gibbs step per update (Tieleman 2008),
            at a tenth of the learning rate: at 0.05 the particles could not follow the weights, and every
            hidden unit learned the same blob
  cd1_h20   784-20 RBM, CD-1: small enough for its exact log-likelihood (2^20 hidden states), the check of AIS
Recipe: SGD with momentum 0.9, learning rate 0.05 (PCD: 0.005) decaying linearly to 0, an L2 weight cost of
2e-4, batch 100, 50 epochs of the 4,000 training digits (2,000 updates); W ~ N(0, 0.01^2) and zero biases
(Hinton 2010, "A practical guide to training restricted Boltzmann machines"). Tested on the 1,000
held-out digits.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

TRAIN_EXAMPLES = 4000
VARIANTS = {
    "cd1": dict(hidden=500, steps=1, persistent=False),
    "cd10": dict(hidden=500, steps=10, persistent=False),
    "pcd": dict(hidden=500, steps=1, persistent=True, learning_rate=0.005),
    "cd1_h20": dict(hidden=20, steps=1, persistent=False),
}


def get_config(arg: str | None = None):
    name, options = parse_arg(arg, variants=tuple(VARIANTS), options=("smoke", "small"), default="cd1")
    spec = VARIANTS[name]
    config = common.supervised()
    config.dataset.name = "mnist5k"
    config.batch_size = 100
    config.model = ml_collections.ConfigDict(dict(name="rbm_mnist", kwargs=ml_collections.ConfigDict(dict(
        num_visible=784, num_hidden=spec["hidden"], persistent_chains=config.batch_size if spec["persistent"] else 0,
        init_scale=0.01))))
    config.task = ml_collections.ConfigDict(dict(name="contrastive_divergence", kwargs=dict(
        steps=spec["steps"], persistent=spec["persistent"], binarize=0.5, exact_max_hidden=20)))
    config.optimizer.update(name="sgd", learning_rate=spec.get("learning_rate", 0.05), momentum=0.9, weight_decay=2e-4,
                            schedule="linear")
    config.num_train_steps = 50 * TRAIN_EXAMPLES // config.batch_size
    config.log_every_steps = 100
    config.eval_every_steps = 500
    config.checkpoint_every_steps = 1000
    config.keep_checkpoints = 1
    config.reference = ("Salakhutdinov & Murray 2008, Table 2 (AIS, full MNIST, 60,000 training digits, binarised "
                        "stochastically): test log-likelihood -164.50 nats for a 25-hidden RBM trained by CD-1, "
                        "-125.53 for 500 hidden units by CD-1, -105.50 by CD-3, -86.34 by CD-25")
    if "small" in options:
        common.shorten(config, config.num_train_steps // 4)
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 4, 2, 4
        config.checkpoint_every_steps = 4
        config.batch_size = 16
        config.model.kwargs.persistent_chains = 16 if spec["persistent"] else 0
    return config

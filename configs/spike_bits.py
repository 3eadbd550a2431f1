"""A GRU reading bits sent as jittered spike patterns (deepzoo/data/spikes.py), the gradient-trained rival of the
liquid state machine and the echo state network in experiments/lsm.py:
python -m deepzoo.main --config=configs/spike_bits.py --workdir=runs/lsm/gru

gru_spikes (64 GRU units, about the liquid's cost per step) answers the five questions of spikes.TASKS at the
last step, each a Bernoulli output trained by the bit_sequence task (cross-entropy in bits). Option ",smoke":
a few steps, for tests.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg


def get_config(arg: str | None = None):
    _, options = parse_arg(arg, variants=("",), options=("smoke",))
    config = common.supervised()

    config.dataset.name = "spike_bits"         # generated in memory: 2,000 train, 500 validation, 1,000 test
    config.dataset.eval_split = "validation"

    config.model = ml_collections.ConfigDict()
    config.model.name = "gru_spikes"
    config.model.kwargs = ml_collections.ConfigDict()

    config.task = ml_collections.ConfigDict()
    config.task.name = "bit_sequence"
    config.task.kwargs = ml_collections.ConfigDict()

    config.optimizer.update(name="adam", learning_rate=3e-3, schedule="cosine", **common.ADAM)
    config.optimizer.grad_clip_norm = 1.0

    config.batch_size = 32
    config.eval_batch_size = 500
    config.num_train_steps = 3000              # 48 epochs of the 2,000 training examples
    config.log_every_steps = 100
    config.eval_every_steps = 500
    config.checkpoint_every_steps = 1000

    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 4, 2, 4
        config.checkpoint_every_steps = 4
        config.model.kwargs.features = 8
    return config

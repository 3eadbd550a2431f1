"""The copy task of the neural Turing machine (Graves, Wayne & Danihelka 2014, section 4.1):
python -m deepzoo.main --config=configs/ntm_copy.py:ntm --workdir=runs/ntm_copy/ntm

Sequences of 1 to 20 random 8-bit vectors, a delimiter, then the copy (deepzoo/data/algorithmic.py); the cost
is the cross-entropy of the copy in bits per sequence (deepzoo/tasks/bit_sequence.py). Variants:
  ntm     the registry's ntm_copy: an LSTM controller of 100 units, one read and one write head, 128 x 20 memory
  lstm    lstm_copy: one LSTM layer of 120 units, the same number of parameters (63k) without the memory
Options: ",small" (a quarter of the steps), ",smoke" (a few steps, for tests).
The paper trained with RMSProp (momentum 0.9, learning rate 1e-4) on one sequence at a time; here, as Collier &
Beel (2018) made it train reliably, Adam 1e-3 on batches of 32 with gradients clipped to global norm 50, and a
cosine decay: at a constant 1e-3 the NTM, perfect on lengths 1-20 at step 3,250, blew up at 3,500 (4,000 updates:
128,000 sequences; it copies lengths 1-20 without an error after about 2,000).
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

MODELS = {"ntm": "ntm_copy", "lstm": "lstm_copy"}


def get_config(arg: str | None = None):
    variant, options = parse_arg(arg, variants=tuple(MODELS), options=("small", "smoke"), default="ntm")
    config = common.supervised()

    config.dataset.name = "copy"               # generated in memory, deterministic (deepzoo/data/algorithmic.py)
    config.dataset.eval_split = "validation"   # lengths 1-20; experiments/ntm.py tests the longer ones

    config.model = ml_collections.ConfigDict()
    config.model.name = MODELS[variant]
    config.model.kwargs = ml_collections.ConfigDict()

    config.task = ml_collections.ConfigDict()
    config.task.name = "bit_sequence"
    config.task.kwargs = ml_collections.ConfigDict()

    config.optimizer.update(name="adam", learning_rate=1e-3, schedule="cosine", **common.ADAM)
    config.optimizer.grad_clip_norm = 50.0

    config.batch_size = 32
    config.eval_batch_size = 500
    config.num_train_steps = 4000
    config.log_every_steps = 100
    config.eval_every_steps = 250
    config.checkpoint_every_steps = 1000
    config.reference = "Graves et al. 2014, Figure 3: the NTM's copy cost falls to ~0 bits per sequence; the LSTM's does not"

    if "small" in options:
        common.shorten(config, config.num_train_steps // 4)
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 4, 2, 4
        config.checkpoint_every_steps = 4
        config.batch_size, config.eval_batch_size = 8, 500
        config.model.kwargs.update(dict(controller_size=16, memory_size=16, memory_width=4) if variant == "ntm" else
                                   dict(features=16))
    return config

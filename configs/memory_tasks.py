"""Memory networks on the algorithmic tasks of Graves, Wayne & Danihelka (2014) and Graves et al. (2016):
python -m deepzoo.main --config=configs/memory_tasks.py:associative_recall,dnc --workdir=runs/dnc/recall_dnc

Variants "<task>,<model>": the task is a generated dataset of deepzoo/data/algorithmic.py (copy, repeat_copy,
associative_recall), the model one of
  ntm     ntm_copy: an LSTM controller of 100 units, one read and one write head, a 128 x 20 memory
  dnc     dnc_copy: an LSTM controller of 100 units, a 64 x 20 memory, 2 read heads, allocation and temporal links
  lstm    lstm_copy: one LSTM layer of 120 units (about the NTM's parameters), no memory
their inputs and outputs sized to the task. The cost is the cross-entropy of the answer in bits per sequence
(deepzoo/tasks/bit_sequence.py). Options: ",small" (a quarter of the steps; recall three quarters), ",smoke" (a few
steps, for tests).
The papers trained with RMSProp (momentum 0.9, learning rate 1e-4) on one sequence at a time; here, as Collier &
Beel (2018) made the NTM train reliably, Adam 1e-3 on batches of 32 with gradients clipped to global norm 50, and
a cosine decay: at a constant 1e-3 the NTM, perfect on copies of lengths 1-20 at step 3,250, blew up at 3,500.
experiments/ntm.py (copy) and experiments/dnc.py (repeat copy, associative recall) run them.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

TASKS = {"copy": 8, "repeat_copy": 9, "associative_recall": 6}     # outputs per step
MODELS = {"ntm": "ntm_copy", "dnc": "dnc_copy", "lstm": "lstm_copy"}
# Batches of 32. Associative recall: 128,000 sequences (the NTM paper's NTM learned it within 30,000; here the DNC
# had it at 64,000, the NTM at 96,000). Repeat copy: 192,000, a first guess from the paper's Figure 7, not yet run.
STEPS = {"copy": 4000, "repeat_copy": 6000, "associative_recall": 4000}
SMALL_STEPS = {"copy": 1000, "repeat_copy": 1500, "associative_recall": 3000}   # the DNC: 27% exact at 2,000
REFERENCES = {
    "copy": "Graves et al. 2014, Figure 3: the NTM's copy cost falls to ~0 bits per sequence; the LSTM's does not",
    "repeat_copy": "Graves et al. 2014, Figure 7: the NTM learns repeat copy faster than the LSTM, to ~0 bits",
    "associative_recall": "Graves et al. 2014, Figure 10: the NTM learns associative recall within 30,000 sequences",
}
VARIANTS = tuple(f"{task},{model}" for task in TASKS for model in MODELS)


def get_config(arg: str | None = None):
    variant, options = parse_arg(arg, variants=VARIANTS, options=("small", "smoke"), default="copy,ntm")
    task, model = variant.split(",")
    config = common.supervised()

    config.dataset.name = task                 # generated in memory, deterministic (deepzoo/data/algorithmic.py)
    config.dataset.eval_split = "validation"   # the training distribution; the experiments test longer ones

    config.model = ml_collections.ConfigDict()
    config.model.name = MODELS[model]
    config.model.kwargs = ml_collections.ConfigDict(dict(num_outputs=TASKS[task]))

    config.task = ml_collections.ConfigDict()
    config.task.name = "bit_sequence"
    config.task.kwargs = ml_collections.ConfigDict()

    config.optimizer.update(name="adam", learning_rate=1e-3, schedule="cosine", **common.ADAM)
    config.optimizer.grad_clip_norm = 50.0

    config.batch_size = 32
    config.eval_batch_size = 512               # divisible by 1, 2, 4, ..., 512 devices
    config.num_train_steps = STEPS[task]
    config.log_every_steps = 100
    config.eval_every_steps = 250
    config.checkpoint_every_steps = 1000
    config.reference = REFERENCES[task]

    if "small" in options:
        common.shorten(config, SMALL_STEPS[task])
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 4, 2, 4
        config.checkpoint_every_steps = 4
        config.batch_size = 8
        small = {"ntm": dict(controller_size=16, memory_size=16, memory_width=4),
                 "dnc": dict(controller_size=16, memory_size=16, word_size=4), "lstm": dict(features=16)}
        config.model.kwargs.update(small[model])
    return config

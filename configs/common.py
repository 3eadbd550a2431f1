"""The fields every supervised run has (deepzoo/train/trainer.py reads them), with the value most configs
use. Not a config itself: a config starts from `supervised()` and sets its model, task and data, and
changes only what its paper's recipe says otherwise.

    from configs import common
    config = common.supervised()
    config.optimizer.update(name="adam", learning_rate=1e-2, **common.ADAM)

Config files import it as `configs.common` (run from the repository root; deepzoo.config.load makes
the repository root importable).
"""
import ml_collections

ADAM = dict(b1=0.9, b2=0.999, eps=1e-8)   # Adam's defaults (Kingma & Ba 2015), for adam and adamw


def supervised() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.program = "supervised"  # the kind of run: supervised | sweep | agent | search (deepzoo/main.py)
    config.seed = 0                # everything random derives from it: initialisation, data order, dropout

    config.dataset = ml_collections.ConfigDict()
    config.dataset.train_split = "train"
    config.dataset.eval_split = "test"
    config.dataset.data_dir = ""   # "" -> $TFDS_DATA_DIR or ~/tensorflow_datasets
    config.dataset.cache = True    # hold the split in memory (the small offline datasets)
    config.dataset.prefetch = 0    # batches prepared ahead in a thread (0: in-memory data)

    config.optimizer = ml_collections.ConfigDict()
    config.optimizer.name = "adam"
    config.optimizer.learning_rate = 1e-3
    config.optimizer.schedule = "constant"  # or cosine, linear, step, rsqrt (after warmup_steps)
    config.optimizer.warmup_steps = 0
    config.optimizer.weight_decay = 0.0
    config.optimizer.grad_clip_norm = 0.0   # 0: no clipping

    config.batch_size = 128          # global, over all devices
    config.eval_batch_size = 1000
    config.num_train_steps = 1000
    config.grad_accum_steps = 1      # > 1 sums the gradients of that many batches per update
    config.ema_decay = 0.0           # > 0 keeps an EMA of the parameters, evaluated too
    # Transfer: the layers named (paths, or patterns such as "stage*") start from another run's checkpoint
    # (workdir) or from a PyTorch / Hugging Face weights file (weights: deepzoo.weights reads it).
    config.init_from = ml_collections.ConfigDict(dict(workdir="", weights="", layers=()))

    config.log_every_steps = 100
    config.eval_every_steps = 500    # 0: at the end only
    config.checkpoint_every_steps = 1000
    config.keep_checkpoints = 3
    return config


def shorten(config: ml_collections.ConfigDict, num_train_steps: int) -> ml_collections.ConfigDict:
    """The `small` option of a config: the same data, model and recipe for fewer steps.

    The warmup, the logging, evaluation and checkpoint intervals and the horizon of the parameters' EMA
    (1 / (1 - ema_decay) steps) shrink in proportion, so that a short run still draws the same number of points
    on its curves, its schedule keeps its shape and its EMA forgets the initialisation as the full run's does."""
    scale = num_train_steps / config.num_train_steps
    config.num_train_steps = num_train_steps
    if config.get("ema_decay"):
        config.ema_decay = 1.0 - (1.0 - config.ema_decay) / scale
    config.optimizer.warmup_steps = round(config.optimizer.warmup_steps * scale)
    for name in ("log_every_steps", "eval_every_steps", "checkpoint_every_steps"):
        if config[name]:
            config[name] = max(1, round(config[name] * scale))
    return config

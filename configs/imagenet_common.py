"""The shared part of the ImageNet configs (configs/imagenet_<model>.py): data, bookkeeping, recipe.

Not a config itself: each imagenet_<model>.py calls `imagenet_config(...)` with its paper's recipe; it
starts from the supervised defaults of configs/common.py. Run from the repository root (configs/ is
imported as a namespace package, as big_vision does).

Data: TFDS `imagenet2012` prepared as ArrayRecord under --config.dataset.data_dir (the archives must be
downloaded by hand from image-net.org; then `tfds build imagenet2012 --file_format=array_record
--manual_dir=...`). Training images get Inception-style random-resized crops and flips, evaluation
images a 0.875 centre crop; both cross to the device as uint8 and are normalised there.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

TRAIN_IMAGES = 1_281_167
IMAGENET_MEAN = (123.675, 116.28, 103.53)   # 255 x (0.485, 0.456, 0.406), RGB
IMAGENET_STD = (58.395, 57.12, 57.375)      # 255 x (0.229, 0.224, 0.225)


def imagenet_config(*, model: str, arg: str | None, reference: str, batch_size: int, epochs: float,
                    optimizer: dict, warmup_epochs: float = 0, decay_every_epochs: float = 0,
                    label_smoothing: float = 0.0, image_size: int = 224, model_kwargs: dict | None = None,
                    ema_decay: float = 0.0):
    """A full ImageNet run of `model`; arg "smoke" shrinks it to a few steps on 32x32 crops (CI)."""
    _, options = parse_arg(arg, variants=("",), options=("smoke",))
    steps_per_epoch = TRAIN_IMAGES / batch_size  # epochs count images; steps are rounded
    config = common.supervised()

    config.dataset.name = "imagenet2012"
    config.dataset.eval_split = "validation"
    config.dataset.cache = False            # 150 GB: read records, decode on the fly
    config.dataset.image_size = image_size  # crops are image_size x image_size
    config.dataset.prefetch = 8             # batches decoded ahead ...
    config.dataset.threads = 16             # ... by this many threads per host

    config.model = ml_collections.ConfigDict()
    config.model.name = model
    config.model.kwargs = ml_collections.ConfigDict(dict(num_classes=1000, dtype="bfloat16",
                                                         **(model_kwargs or {})))

    config.task = ml_collections.ConfigDict()
    config.task.name = "classification"
    config.task.kwargs = ml_collections.ConfigDict(dict(
        label_smoothing=label_smoothing, input_mean=IMAGENET_MEAN, input_std=IMAGENET_STD))

    config.optimizer.update(schedule="cosine", warmup_steps=round(warmup_epochs * steps_per_epoch))
    config.optimizer.update(optimizer)
    if decay_every_epochs:
        config.optimizer.decay_every_steps = round(decay_every_epochs * steps_per_epoch)

    config.batch_size = batch_size
    config.eval_batch_size = 1000 if batch_size <= 1000 else 2000
    config.num_train_steps = round(epochs * steps_per_epoch)
    config.ema_decay = ema_decay
    config.eval_every_steps = round(5 * steps_per_epoch)
    config.reference = reference

    if "smoke" in options:  # the same recipe, a few steps on tiny crops: for tests with mock data
        config.dataset.image_size, config.dataset.prefetch, config.dataset.threads = 32, 0, 1
        config.batch_size = config.eval_batch_size = 8
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 2, 1, 2
        config.checkpoint_every_steps = 2
        config.optimizer.warmup_steps = min(config.optimizer.warmup_steps, 1)
        if decay_every_epochs:
            config.optimizer.decay_every_steps = 1
        config.model.kwargs.dtype = "float32"
    return config

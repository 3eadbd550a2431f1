"""Deep double descent at the paper's scale (Nakkiran et al. 2019, https://arxiv.org/abs/1912.02292), for pods.

    python -m deepzoo.main --config=configs/double_descent_pods.py:resnet18 --workdir=gs://bucket/dd
    # as a job array of n jobs, job i runs every n-th group of trials:
    python -m deepzoo.main --config=configs/double_descent_pods.py:resnet18 --workdir=gs://bucket/dd \
        --config.sweep.shard=i/n

Variants (each a sweep, deepzoo/train/sweep.py; rerunning resumes it, finished trials are never rerun):
  resnet18     Figure 1/4: ResNet-18 of width k = 1..64 (stages k, 2k, 4k, 8k; k = 64 is the standard
               network) on CIFAR-10, 0% and 15% label noise, Adam 1e-4, batch 128, 4,000 epochs, random
               crops and flips. Expected: with 15% noise the test error peaks near k = 10-12, where
               train error first reaches ~0, and falls again for wider networks. Nakkiran et al. used
               pre-activation ResNets; deepzoo's resnet18 is the post-activation v1.5 network with the
               CIFAR stem (3x3 conv, no max pool).
  cnn5         Figure 4/7: the five-layer CNN (widths k, 2k, 4k, 8k), k = 1..64, the same data and noise,
               SGD with learning rate 0.1 / sqrt(step / 512) after 512 warm-up steps (their
               0.1 / sqrt(1 + floor(step / 512)), up to the warm-up), 500k steps (1,280 epochs at batch
               128), no augmentation (set dataset.augmentation='crop_flip' for the augmented runs).
  transformer  Figure 3/9: the 6+6-layer Transformer with d_model swept (d_ff = 4 d_model, 8 heads), on
               160k WMT14 EN-DE pairs (their IWSLT'14 has 160k), 80 epochs, no label noise; the peak
               appears in test loss. LayerNorm sees every feature, so widths cannot be zero-padded:
               each width is its own program (no sweep.padded), its seeds vmapped. (The 160k-pair
               subset is not drawn: config.dataset.train_examples selects from classification splits.)
CIFAR-10 and WMT14 come from TFDS (prepared under --config.dataset.data_dir or $TFDS_DATA_DIR) and are
held in host memory (config.dataset.cache), each trial's batches read by the input pipeline.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg


def _sweep(name, width_field, widths, **changes):
    """A width sweep at 0% and 15% label noise, one seed (its data subset and noise tied to it)."""
    return ml_collections.ConfigDict(dict(
        name=name, axes={"model": {"kwargs": {width_field: widths}}, "dataset": {"label_noise": (0.0, 0.15)},
                         "seed": (0,)},
        tied={"dataset": {"subset_seed": "seed"}}, padded=(f"model.kwargs.{width_field}",), max_pad_ratio=1.5,
        shard="", **changes))


def get_config(arg: str | None = None):
    variant, _ = parse_arg(arg, variants=("resnet18", "cnn5", "transformer"), default="resnet18")
    config = common.supervised()            # each trial is a supervised run (deepzoo/train/trainer.py)
    config.program = "sweep"  # the kind of run: supervised | sweep | agent (deepzoo/main.py)
    config.dataset.update(name="cifar10", subset_seed=0, label_noise=0.0, augmentation="")
    config.task = ml_collections.ConfigDict(dict(name="classification", kwargs=dict(label_smoothing=0.0)))
    config.batch_size = 128
    # Counted in epochs (num_train_steps and *_every_steps do not apply).
    config.num_epochs = 4000
    config.log_every_epochs = config.eval_every_epochs = config.checkpoint_every_epochs = 20
    config.keep_checkpoints = 2

    if variant == "resnet18":
        config.model = ml_collections.ConfigDict(dict(name="resnet18", kwargs=ml_collections.ConfigDict(dict(
            num_classes=10, stem="cifar", stem_width=64, widths=(64, 128, 256, 512), dtype="bfloat16"))))
        config.optimizer = ml_collections.ConfigDict(dict(name="adam", learning_rate=1e-4, schedule="constant",
                                                          b1=0.9, b2=0.999, eps=1e-8))
        config.dataset.augmentation = "crop_flip"
        config.sweep = _sweep("resnet18_width", "stem_width", tuple(range(1, 65)))
        # stages k, 2k, 4k, 8k for stem width k
        config.sweep.tied.model = ml_collections.ConfigDict(dict(kwargs=dict(
            widths=("model.kwargs.stem_width", (1, 2, 4, 8)))))
        config.sweep.padded = ("model.kwargs.stem_width", "model.kwargs.widths")
    elif variant == "cnn5":
        config.model = ml_collections.ConfigDict(dict(name="cnn5", kwargs=ml_collections.ConfigDict(dict(
            width=64, num_classes=10, dtype="bfloat16"))))
        config.optimizer = ml_collections.ConfigDict(dict(name="sgd", learning_rate=0.1, momentum=0.0,
                                                          schedule="rsqrt", warmup_steps=512))
        config.num_epochs = 1280
        config.sweep = _sweep("cnn5_width", "width", tuple(range(1, 65)))
    elif variant == "transformer":
        config.dataset = ml_collections.ConfigDict(dict(
            name="wmt14_translate/de-en", train_split="train", eval_split="validation", data_dir="", cache=True,
            prefetch=0, languages=("en", "de"), vocab_size=32_000, max_length=64))
        config.model = ml_collections.ConfigDict(dict(name="transformer_base", kwargs=ml_collections.ConfigDict(dict(
            vocab_size=32_000, max_length=64, d_model=512, mlp_dim=2048, num_heads=8, dropout_rate=0.0,
            dtype="bfloat16"))))
        config.task = ml_collections.ConfigDict(dict(name="seq2seq", kwargs=dict(label_smoothing=0.0,
                                                                                 eval_decode_length=0)))
        config.optimizer = ml_collections.ConfigDict(dict(name="adam", b1=0.9, b2=0.98, eps=1e-9,
                                                          learning_rate=7e-4, schedule="rsqrt", warmup_steps=4000))
        config.num_epochs, config.log_every_epochs = 80, 2
        config.eval_every_epochs = config.checkpoint_every_epochs = 2
        config.sweep = ml_collections.ConfigDict(dict(
            name="transformer_width", axes={"model": {"kwargs": {"d_model": (8, 16, 32, 48, 64, 96, 128, 192, 256, 384,
                                                                             512)}}, "seed": (0,)},
            tied={"model": {"kwargs": {"mlp_dim": ("model.kwargs.d_model", 4)}}},   # d_ff = 4 d_model
            padded=(), max_pad_ratio=1.0, shard=""))
    config.reference = "Nakkiran et al. 2019, Figures 1, 3, 4: the test-error peak at the interpolation threshold"
    return config

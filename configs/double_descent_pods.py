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
               128), no augmentation (set sweep.augment='crop_flip' for the augmented runs).
  transformer  Figure 3/9: the 6+6-layer Transformer with d_model swept (d_ff = 4 d_model, 8 heads), on
               160k WMT14 EN-DE pairs (their IWSLT'14 has 160k), 80 epochs, no label noise; the peak
               appears in test loss. LayerNorm sees every feature, so widths cannot be zero-padded:
               each width is its own program (pad_widths=False), its seeds vmapped.
CIFAR-10 and WMT14 come from TFDS (prepared under --config.dataset.data_dir or $TFDS_DATA_DIR) and are
held in device memory by the sweep (about 0.6 GB for CIFAR-10's training images).
"""
import ml_collections

from deepzoo.config import parse_arg


def _sweep(**kwargs):
    sweep = dict(name="", width=(), label_noise=(0.0, 0.15), seed=(0,), train_size=(50_000,), epochs=(4000,),
                 width_kwargs={}, pad_widths=True, max_pad_ratio=1.5, augment="", eval_every_epochs=20,
                 checkpoint_every_epochs=20, shard="")
    sweep.update(kwargs)
    return ml_collections.ConfigDict(sweep)


def get_config(arg: str | None = None):
    variant, _ = parse_arg(arg, variants=("resnet18", "cnn5", "transformer"), default="resnet18")
    config = ml_collections.ConfigDict()
    config.program = "sweep"  # the kind of run: supervised | sweep | agent (deepzoo/main.py)
    config.seed = 0
    config.dataset = ml_collections.ConfigDict(dict(
        name="cifar10", train_split="train", eval_split="test", data_dir="", cache=True, prefetch=0))
    config.task = ml_collections.ConfigDict(dict(name="classification", kwargs=dict(label_smoothing=0.0)))
    config.batch_size = 128
    config.eval_batch_size = 1000

    if variant == "resnet18":
        config.model = ml_collections.ConfigDict(dict(name="resnet18", kwargs=ml_collections.ConfigDict(dict(
            num_classes=10, stem="cifar", stem_width=64, widths=(64, 128, 256, 512), dtype="bfloat16"))))
        config.optimizer = ml_collections.ConfigDict(dict(name="adam", learning_rate=1e-4, schedule="constant",
                                                          b1=0.9, b2=0.999, eps=1e-8))
        config.sweep = _sweep(name="resnet18_width", width=tuple(range(1, 65)), augment="crop_flip",
                              width_kwargs={"stem_width": 1, "widths": (1, 2, 4, 8)})
    elif variant == "cnn5":
        config.model = ml_collections.ConfigDict(dict(name="cnn5", kwargs=ml_collections.ConfigDict(dict(
            width=64, num_classes=10, dtype="bfloat16"))))
        config.optimizer = ml_collections.ConfigDict(dict(name="sgd", learning_rate=0.1, momentum=0.0,
                                                          schedule="rsqrt", warmup_steps=512))
        config.sweep = _sweep(name="cnn5_width", width=tuple(range(1, 65)), epochs=(1280,),
                              width_kwargs={"width": 1})
    else:  # transformer
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
        config.sweep = _sweep(name="transformer_width", width=(8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512),
                              label_noise=(0.0,), train_size=(160_000,), epochs=(80,), pad_widths=False,
                              width_kwargs={"d_model": 1, "mlp_dim": 4}, eval_every_epochs=2,
                              checkpoint_every_epochs=2)
    config.reference = "Nakkiran et al. 2019, Figures 1, 3, 4: the test-error peak at the interpolation threshold"
    return config

"""Swin-T on ImageNet, Liu et al. 2021 ("Swin Transformer"), their recipe in what deepzoo has.

    TPU_NAME=<tpu> ZONE=<zone> launch/tpu_pod.sh run configs/imagenet_swin_t.py gs://<bucket>/swin_t

AdamW lr 1e-3 at batch 1024, 20 warm-up epochs, cosine, 300 epochs, weight decay 0.05, label smoothing
0.1, gradient clipping at 5.0, stochastic depth 0.2. Not implemented here: Mixup, CutMix, RandAugment,
random erasing. Expected top-1 with the full recipe: 81.3% (paper; torchvision 81.47%).
"""
from configs.imagenet_common import imagenet_config


def get_config(arg: str | None = None):
    return imagenet_config(
        model="swin_t", arg=arg, batch_size=1024, epochs=300, warmup_epochs=20, label_smoothing=0.1,
        model_kwargs=dict(drop_path_rate=0.2),  # stochastic depth of the last block
        optimizer=dict(name="adamw", learning_rate=1e-3, weight_decay=0.05, grad_clip_norm=5.0),
        reference="Swin-T ImageNet top-1 81.3% (Liu et al. 2021; torchvision 81.47%)")

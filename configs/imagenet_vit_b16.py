"""ViT-B/16 on ImageNet-1k from scratch, Dosovitskiy et al. 2021, with torchvision's recipe.

    TPU_NAME=<tpu> ZONE=<zone> launch/tpu_pod.sh run configs/imagenet_vit_b16.py gs://<bucket>/vit_b16

AdamW lr 3e-3 at batch 4096, 30 warm-up epochs, cosine, 300 epochs, weight decay 0.3, label smoothing
0.11, gradient clipping at 1.0, EMA. Not implemented here (so expect less): Mixup, CutMix, AutoAugment.
Expected top-1 with the full recipe: 81.1% (torchvision 81.07%); the paper's own ImageNet-only
training reaches 77.9%, the point being that ViT needs either more data or strong augmentation.
"""
from configs.imagenet_common import imagenet_config


def get_config(arg: str | None = None):
    return imagenet_config(
        model="vit_b16", arg=arg, batch_size=4096, epochs=300, warmup_epochs=30, label_smoothing=0.11,
        ema_decay=0.9998,
        optimizer=dict(name="adamw", learning_rate=3e-3, weight_decay=0.3, grad_clip_norm=1.0),
        reference="ViT-B/16 ImageNet top-1 81.1% (torchvision 81.07%; paper, ImageNet only, 77.9%)")

"""ConvNeXt-T on ImageNet, Liu et al. 2022 ("A ConvNet for the 2020s"), their recipe in what deepzoo has.

    TPU_NAME=<tpu> ZONE=<zone> launch/tpu_pod.sh run configs/imagenet_convnext_t.py gs://<bucket>/convnext_t

AdamW lr 4e-3 at batch 4096, 20 warm-up epochs, cosine, 300 epochs, weight decay 0.05, label smoothing
0.1, stochastic depth 0.1, EMA of the weights. Not implemented here (so expect less): Mixup, CutMix,
RandAugment and random erasing. Expected top-1 with the full recipe: 82.5% (torchvision 82.52%).
"""
from configs.imagenet_common import imagenet_config


def get_config(arg: str | None = None):
    return imagenet_config(
        model="convnext_t", arg=arg, batch_size=4096, epochs=300, warmup_epochs=20, label_smoothing=0.1,
        ema_decay=0.9999,
        model_kwargs=dict(drop_path_rate=0.1),  # stochastic depth of the last block
        optimizer=dict(name="adamw", learning_rate=4e-3, weight_decay=0.05),
        reference="ConvNeXt-T ImageNet top-1 82.5% (torchvision 82.52%; paper 82.1%)")

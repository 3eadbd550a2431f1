"""ResNet-152 on ImageNet, He et al. 2016 (v1.5 layout), with the Goyal et al. 2017 large-batch recipe.

    TPU_NAME=<tpu> ZONE=<zone> launch/tpu_pod.sh run configs/imagenet_resnet152.py gs://<bucket>/resnet152

Batch 1024, SGD momentum 0.9, lr 0.4 (0.1 x batch / 256), 5 warm-up epochs, cosine, 100 epochs,
weight decay 1e-4. Expected top-1: 78.3% (torchvision 78.31%).
"""
from configs.imagenet_common import imagenet_config


def get_config(arg: str | None = None):
    return imagenet_config(
        model="resnet152", arg=arg, batch_size=1024, epochs=100, warmup_epochs=5,
        optimizer=dict(name="sgd", learning_rate=0.1 * 1024 / 256, momentum=0.9, weight_decay=1e-4),
        reference="ResNet-152 ImageNet top-1 78.3% (torchvision 78.31%)")

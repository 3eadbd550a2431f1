"""ResNet-50 (v1.5) on ImageNet, He et al. 2016 with the large-batch recipe of Goyal et al. 2017.

    TPU_NAME=<tpu> ZONE=<zone> launch/tpu_pod.sh run configs/imagenet_resnet50.py gs://<bucket>/resnet50

Batch 1024, SGD with momentum 0.9, lr 0.1 x batch / 256 = 0.4 with 5 warm-up epochs then cosine,
100 epochs, weight decay 1e-4. Expected top-1: 76.1% (torchvision's ResNet-50 v1: 76.13%).
"""
from configs.imagenet_common import imagenet_config


def get_config(arg: str | None = None):
    return imagenet_config(
        model="resnet50", arg=arg, batch_size=1024, epochs=100, warmup_epochs=5,
        optimizer=dict(name="sgd", learning_rate=0.1 * 1024 / 256, momentum=0.9, weight_decay=1e-4),
        reference="ResNet-50 ImageNet top-1 76.1% (He et al. 2016; torchvision 76.13%)")

"""VGG-16 (configuration D) on ImageNet, Simonyan & Zisserman 2015, their recipe.

    TPU_NAME=<tpu> ZONE=<zone> launch/tpu_pod.sh run configs/imagenet_vgg16.py gs://<bucket>/vgg16

Batch 256, SGD momentum 0.9, lr 0.01 divided by 10 every 25 epochs (the paper: three times, 74 epochs),
74 epochs, weight decay 5e-4, dropout 0.5 in the first two fully connected layers. Scale jittering
(S in [256, 512]) is replaced by the random-resized crop. Expected top-1: 71.6% (torchvision 71.59%).
"""
from configs.imagenet_common import imagenet_config


def get_config(arg: str | None = None):
    return imagenet_config(
        model="vgg16", arg=arg, batch_size=256, epochs=74, decay_every_epochs=25,
        optimizer=dict(name="sgd", learning_rate=0.01, momentum=0.9, weight_decay=5e-4,
                       schedule="step", decay_factor=0.1),
        reference="VGG-16 ImageNet top-1 71.6% (torchvision 71.59%)")

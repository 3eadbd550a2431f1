"""SE-ResNet-50 on ImageNet, Hu et al. 2018 ("Squeeze-and-Excitation Networks"), their recipe.

    TPU_NAME=<tpu> ZONE=<zone> launch/tpu_pod.sh run configs/imagenet_se_resnet50.py gs://<bucket>/se_resnet50

Batch 1024, SGD momentum 0.9, lr 0.6, divided by 10 every 30 epochs, 100 epochs, weight decay 1e-4.
Expected top-1: 76.7% (the paper's single-crop top-1 error 23.29%).
"""
from configs.imagenet_common import imagenet_config


def get_config(arg: str | None = None):
    return imagenet_config(
        model="se_resnet50", arg=arg, batch_size=1024, epochs=100, decay_every_epochs=30,
        optimizer=dict(name="sgd", learning_rate=0.6, momentum=0.9, weight_decay=1e-4,
                       schedule="step", decay_factor=0.1),
        reference="SE-ResNet-50 ImageNet top-1 76.7% (Hu et al. 2018, 23.29% top-1 error)")

"""GoogLeNet (Inception v1) on ImageNet, Szegedy et al. 2015, the paper's recipe with BatchNorm added.

    TPU_NAME=<tpu> ZONE=<zone> launch/tpu_pod.sh run configs/imagenet_googlenet.py gs://<bucket>/googlenet

SGD momentum 0.9, lr decreased by 4% every 8 epochs (the paper), here from 0.1 at batch 256 with
BatchNorm (googlenet_bn, as torchvision trains it; the paper's net without BN needs lr ~0.01 and its
auxiliary classifiers), 90 epochs, weight decay 1e-4. Expected top-1: 69.8% (torchvision 69.78%).
"""
from configs.imagenet_common import imagenet_config


def get_config(arg: str | None = None):
    return imagenet_config(
        model="googlenet_bn", arg=arg, batch_size=256, epochs=90, decay_every_epochs=8,
        optimizer=dict(name="sgd", learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
                       schedule="step", decay_factor=0.96),
        reference="GoogLeNet ImageNet top-1 69.8% (torchvision 69.78%)")

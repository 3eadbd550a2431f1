"""AlexNet (one tower, as torchvision) on ImageNet, Krizhevsky et al. 2012, their recipe.

    TPU_NAME=<tpu> ZONE=<zone> launch/tpu_pod.sh run configs/imagenet_alexnet.py gs://<bucket>/alexnet

Batch 128, SGD momentum 0.9, lr 0.01 divided by 10 every 30 epochs (the paper divided it when the
validation error stopped improving, three times in ~90 epochs), 90 epochs, weight decay 5e-4, dropout
0.5 in the two 4096-unit layers. The paper's PCA colour jitter and 10-crop testing are not reproduced.
Expected top-1: 56.5% (torchvision 56.52%; the paper's single model 59.3% with 10 crops).
"""
from configs.imagenet_common import imagenet_config


def get_config(arg: str | None = None):
    return imagenet_config(
        model="alexnet", arg=arg, batch_size=128, epochs=90, decay_every_epochs=30,
        optimizer=dict(name="sgd", learning_rate=0.01, momentum=0.9, weight_decay=5e-4,
                       schedule="step", decay_factor=0.1),
        reference="AlexNet ImageNet top-1 56.5% (torchvision 56.52%)")

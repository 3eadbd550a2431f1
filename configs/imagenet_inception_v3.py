"""Inception-v3 on ImageNet at 299x299, Szegedy et al. 2016 ("Rethinking the Inception architecture").

    TPU_NAME=<tpu> ZONE=<zone> launch/tpu_pod.sh run configs/imagenet_inception_v3.py gs://<bucket>/inception_v3

The paper's recipe: RMSProp (decay 0.9, epsilon 1.0), lr 0.045 decayed by 0.94 every two epochs,
gradient clipping at 2.0, label smoothing 0.1, batch 32 on each of 50 replicas (1600), 100 epochs.
The auxiliary head is built but not in the loss (the generic classification task sees the main logits).
Expected top-1: 77.3% (torchvision 77.29%; the paper 78.8% single crop).
"""
from configs.imagenet_common import imagenet_config


def get_config(arg: str | None = None):
    return imagenet_config(
        model="inception_v3", arg=arg, batch_size=1600, epochs=100, decay_every_epochs=2, image_size=299,
        label_smoothing=0.1,
        optimizer=dict(name="rmsprop", learning_rate=0.045, rms_decay=0.9, eps=1.0, momentum=0.0,
                       schedule="step", decay_factor=0.94, grad_clip_norm=2.0, weight_decay=4e-5),
        reference="Inception-v3 ImageNet top-1 77.3% (torchvision 77.29%)")

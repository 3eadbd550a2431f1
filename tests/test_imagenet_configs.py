"""The ImageNet pod configs: each loads, names a registered model with its recipe, and trains end to end
on mock ImageNet (tfds.testing.mock_data) through the real input pipeline."""
import glob
import importlib.util
import os

import jax
import pytest
import tensorflow_datasets as tfds

from deepzoo import config as config_lib
from deepzoo import models
from deepzoo.train import train_and_evaluate

CONFIGS = sorted(p for p in glob.glob("configs/imagenet_*.py") if not p.endswith("imagenet_common.py"))


def test_there_is_a_config_per_headline_network():
    names = {os.path.basename(p)[len("imagenet_"):-3] for p in CONFIGS}
    assert {"alexnet", "vgg16", "googlenet", "inception_v3", "resnet18", "resnet50", "resnet152",
            "se_resnet50", "convnext_t", "vit_b16", "swin_t"} <= names


@pytest.mark.parametrize("path", CONFIGS)
def test_config_loads_builds_its_model_and_documents_the_expected_result(path):
    config = config_lib.load(path)
    smoke = config_lib.load(path + ":smoke")
    model = models.get(config.model.name, **config.model.kwargs)
    assert model.num_classes == 1000 and config.dataset.name == "imagenet2012"
    assert smoke.model.name == config.model.name and smoke.dataset.image_size == 32
    spec = importlib.util.spec_from_file_location("c", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = module.__doc__
    assert "Expected top-1" in doc and f"launch/tpu_pod.sh run {path}" in doc
    # The recipe's length is whole epochs of the 1,281,167 training images.
    epochs = config.num_train_steps * config.batch_size / 1_281_167
    assert abs(epochs - round(epochs)) < 0.01


def test_unknown_variant_is_named():
    with pytest.raises(ValueError, match="known: '' .*'smoke'"):
        config_lib.load("configs/imagenet_resnet50.py:tiny")


def test_resnet_recipe_is_the_issue_s():
    c = config_lib.load("configs/imagenet_resnet50.py")
    assert (c.batch_size, c.optimizer.name, c.optimizer.momentum, c.optimizer.schedule) == (1024, "sgd", 0.9, "cosine")
    assert c.optimizer.learning_rate == pytest.approx(0.1 * 1024 / 256) and c.optimizer.weight_decay == 1e-4
    assert c.optimizer.warmup_steps == round(5 * 1_281_167 / 1024)
    assert c.num_train_steps == round(100 * 1_281_167 / 1024)


@pytest.mark.slow   # ~20 s
def test_imagenet_config_trains_on_mock_data(tmp_path):
    # The ResNet-50 recipe, with a small ResNet so that the test stays fast.
    config = config_lib.load("configs/imagenet_resnet50.py:smoke", **{"model.name": "resnet_mnist"})
    with tfds.testing.mock_data(num_examples=16, policy=tfds.testing.MockPolicy.USE_CODE):
        results = train_and_evaluate(config, tmp_path)
    assert 0.0 <= results["validation_accuracy"] <= 1.0 and (tmp_path / "checkpoints" / "2").exists()
    assert jax.numpy.isfinite(results["loss"])

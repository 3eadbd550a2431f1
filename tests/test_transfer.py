"""Transfer learning: class subsets and small balanced training sets, per-layer learning rates
(optax multi_transform), and starting part of a model from another run's checkpoint."""
import jax
import ml_collections
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from deepzoo import config as config_lib
from deepzoo import data, models
from deepzoo.train import optim
from deepzoo.train.checkpoint import load_variables, warm_start
from deepzoo.train.state import create_train_state
from deepzoo.train.trainer import train_and_evaluate


def source(labels):
    labels = np.asarray(labels, np.int32)
    return data.ArraySource({"input": np.arange(len(labels), dtype=np.float32)[:, None], "label": labels}, 10)


def test_classes_are_kept_and_relabelled_in_the_order_given():
    picked = data.sources.select(source([0, 5, 7, 5, 9, 1]), classes=(9, 5, 7))
    np.testing.assert_array_equal(picked.arrays["input"][:, 0], [1, 2, 3, 4])
    np.testing.assert_array_equal(picked.arrays["label"], [1, 2, 1, 0])
    assert picked.num_classes == 3
    with pytest.raises(ValueError, match=r"classes \[3\] do not occur"):
        data.sources.select(source([0, 5]), classes=(3, 5))


def test_small_training_sets_are_class_balanced_and_nested():
    full = source(np.repeat(np.arange(5), 40))
    small, large = (data.sources.select(full, num_examples=n, seed=1) for n in (10, 50))
    assert np.bincount(small.arrays["label"]).tolist() == [2] * 5
    assert np.bincount(large.arrays["label"]).tolist() == [10] * 5
    assert set(small.arrays["input"][:, 0]) <= set(large.arrays["input"][:, 0])   # the smaller inside the larger
    other = data.sources.select(full, num_examples=10, seed=2)
    assert set(other.arrays["input"][:, 0]) != set(small.arrays["input"][:, 0])
    with pytest.raises(ValueError, match="more than the 200 examples"):
        data.sources.select(full, num_examples=500)


def test_digits28_frames_scikit_learns_digits_like_mnist():
    digits = data.load("digits28", "train")
    x = digits.arrays["input"]
    assert x.shape == (1437, 28, 28, 1) and 0.0 <= x.min() and x.max() <= 1.0
    assert x[:, :4].max() == 0 and x[:, -4:].max() == 0      # MNIST's 4-pixel empty border
    small = np.asarray(jax.image.resize(x[:1, 4:24, 4:24], (1, 8, 8, 1), "bilinear"))   # the 20x20 box back to 8x8
    assert np.corrcoef(small.ravel(), data.load("digits", "train").arrays["input"][0].ravel())[0, 1] > 0.95


def test_layer_learning_rates_freeze_and_scale_named_layers():
    params = {"c1": {"kernel": jnp.ones(3)}, "c3": {"kernel": jnp.ones(3)}, "output": {"kernel": jnp.ones(3)}}
    cfg = ml_collections.ConfigDict(dict(name="sgd", learning_rate=1.0, layer_lr={"c1": 0.0, "c3": 0.1}))
    tx, _ = optim.create(cfg, 10)
    grads = jax.tree.map(jnp.ones_like, params)
    updates, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(updates["c1"]["kernel"], 0.0)
    np.testing.assert_allclose(updates["c3"]["kernel"], -0.1)
    np.testing.assert_allclose(updates["output"]["kernel"], -1.0)
    cfg.layer_lr = {"conv9": 0.0}
    tx, _ = optim.create(cfg, 10)
    with pytest.raises(ValueError, match=r"match no parameter; the model's layers are \['c1', 'c3', 'output'\]"):
        tx.init(params)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("pretrain")
    train_and_evaluate(config_lib.load("configs/mnist5k_transfer.py:pretrain,smoke"), workdir)
    return workdir


def test_warm_start_takes_the_named_layers_and_keeps_the_rest(pretrained):
    model = models.get("lenet_mnist", num_classes=10)
    tx = optax.adam(1e-3)
    state = create_train_state(model, tx, jnp.zeros((1, 28, 28, 1)), seed=5)
    started = warm_start(state, pretrained, ("c1", "c3"))
    saved = load_variables(pretrained)["params"]
    np.testing.assert_array_equal(started.params["c1"]["kernel"], saved["c1"]["kernel"])
    np.testing.assert_array_equal(started.params["c3"]["bias"], saved["c3"]["bias"])
    np.testing.assert_array_equal(started.params["c5"]["kernel"], state.params["c5"]["kernel"])
    with pytest.raises(ValueError, match=r"'output/kernel' has shape \(84, 5\) in .* but \(84, 10\) in this model"):
        warm_start(state, pretrained, ("output",))
    with pytest.raises(ValueError, match=r"does not have; its layers are \['c1', 'c3', 'c5', 'f6', 'output'\]"):
        warm_start(state, pretrained, ("conv1",))


def test_a_frozen_run_started_from_a_checkpoint_leaves_the_features_unchanged(pretrained, tmp_path):
    config = config_lib.load("configs/mnist5k_transfer.py:frozen,digits59,smoke",
                             **{"init_from.workdir": str(pretrained), "dataset.train_examples": 20})
    train_and_evaluate(config, tmp_path)
    before, after = load_variables(pretrained)["params"], load_variables(tmp_path)["params"]
    for layer in ("c1", "c3", "c5"):
        np.testing.assert_array_equal(after[layer]["kernel"], before[layer]["kernel"])
    assert not np.allclose(after["f6"]["kernel"], before["f6"]["kernel"])   # f6 starts there and learns


@pytest.mark.slow
def test_transfer_experiment_writes_its_table_and_plot(run_experiment):
    out = run_experiment("transfer.py", "--variant=smoke", "--sizes=10,20", "--seeds=1")
    table = (out / "results.md").read_text()
    assert "| 10 |" in table and "| 20 |" in table and "frozen" in table
    assert (out / "transfer.png").stat().st_size > 0
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 2 * 2 * 4


def test_a_run_can_start_from_imported_pytorch_weights():
    """config.init_from.weights: a torchvision ResNet's file (tests/fixtures/weights) fills the layers named (a
    pattern too); the stem stays fresh: the fixture's takes RGB, the digits are grey, and its shape is not checked."""
    from deepzoo import weights
    from deepzoo.train.trainer import Supervised
    fixture = "tests/fixtures/weights/resnet_basic.safetensors"
    small = dict(stage_sizes=(1, 1, 1, 1), widths=(8, 16, 32, 64), stem_width=8, num_classes=10)
    config = config_lib.load("configs/mnist5k_transfer.py:pretrain,smoke")
    config.dataset.update(name="digits28", classes=None)
    config.model = ml_collections.ConfigDict(dict(name="resnet18", kwargs=small))
    config.init_from = ml_collections.ConfigDict(dict(workdir="", weights=fixture, layers=("stage*", "fc")))
    state = Supervised(config).init()
    _, imported = weights.load("resnet18", fixture, input_shape=(32, 32, 3), **small)
    for layer in ("stage1_block1", "stage2_block1", "stage3_block1", "stage4_block1", "fc"):
        jax.tree.map(np.testing.assert_array_equal, state.params[layer], imported["params"][layer])
    np.testing.assert_array_equal(state.model_state["batch_stats"]["stage2_block1"]["bn1"]["var"],
                                  imported["batch_stats"]["stage2_block1"]["bn1"]["var"])
    assert state.params["conv1"]["kernel"].shape == (7, 7, 1, 8)   # fresh: the digits have one channel

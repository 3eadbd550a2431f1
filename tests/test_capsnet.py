"""The capsule network: squash, routing by agreement against a NumPy loop of Procedure 1, the paper's parameter
counts, the margin loss by hand, and the decoder reading the true class's capsule in training."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import models, tasks
from deepzoo.analysis import complexity
from deepzoo.models import capsnet


def _np_squash(s):
    n2 = (s ** 2).sum(-1, keepdims=True)
    return n2 / (1 + n2) * s / np.sqrt(n2)


def test_squash_keeps_the_direction_and_maps_the_length_below_one():
    s = np.random.default_rng(0).normal(size=(5, 16)) * np.array([[0.01], [0.5], [1], [3], [100]])
    v = np.asarray(capsnet.squash(jnp.asarray(s)))
    norm, length = np.linalg.norm(s, axis=-1), np.linalg.norm(v, axis=-1)
    np.testing.assert_allclose(length, norm ** 2 / (1 + norm ** 2), rtol=1e-4)
    assert (length < 1).all()
    np.testing.assert_allclose(v / length[:, None], s / norm[:, None], rtol=1e-4, atol=1e-6)


def test_routing_against_a_numpy_loop_of_procedure_1():
    rng = np.random.default_rng(1)
    u_hat = rng.normal(size=(2, 7, 3, 4)).astype(np.float32) * 0.5
    b = np.zeros((2, 7, 3))
    for r in range(3):
        c = np.exp(b) / np.exp(b).sum(-1, keepdims=True)
        v = _np_squash((c[..., None] * u_hat).sum(1))
        if r < 2:
            b = b + (u_hat * v[:, None]).sum(-1)
    got_v, got_c = capsnet.route(jnp.asarray(u_hat), 3)
    np.testing.assert_allclose(got_v, v, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got_c, c, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(got_c).sum(-1), 1.0, rtol=1e-6)   # each child's couplings sum to 1


def test_parameter_counts_are_the_papers():
    count = lambda **kw: complexity.count_params(jax.eval_shape(
        lambda: models.get("capsnet", **kw).init(jax.random.key(0), jnp.zeros((1, 28, 28, 1))))["params"])
    conv1, primary = 9 * 9 * 1 * 256 + 256, 9 * 9 * 256 * 256 + 256
    digit = 6 * 6 * 32 * 10 * 8 * 16
    decoder = (160 * 512 + 512) + (512 * 1024 + 1024) + (1024 * 784 + 784)
    assert count(decoder=False) == conv1 + primary + digit == 6_804_224        # the paper's 6.8M
    assert count() == conv1 + primary + digit + decoder == 8_215_568            # and 8.2M with the decoder
    summary = models.summary("capsnet", quiet=True)     # a model with several outputs: each one's shape
    assert summary.params == 8_215_568
    assert summary.output_shape == {"capsules": (10, 16), "lengths": (10,), "reconstruction": (28, 28, 1)}


def test_margin_loss_by_hand_and_the_decoder_reads_the_labelled_capsule():
    task = tasks.get("capsule")
    lengths = jnp.array([[0.95, 0.3, 0.05], [0.5, 0.2, 0.8]])
    # example 0, label 0: present 0.95 > 0.9 costs nothing; absent 0.3 costs 0.5 (0.2)^2; absent 0.05 nothing
    # example 1, label 2: present 0.8 costs (0.1)^2; absent 0.5 and 0.2 cost 0.5 (0.4^2 + 0.1^2)
    np.testing.assert_allclose(task.margin(lengths, jnp.array([0, 2])), [0.5 * 0.04, 0.01 + 0.5 * 0.17], rtol=1e-5)

    model = models.get("capsnet")
    x = jax.random.uniform(jax.random.key(1), (2, 28, 28, 1))
    variables = jax.jit(model.init)(jax.random.key(0, impl="rbg"), x)
    apply = jax.jit(lambda v, x, labels: model.apply(v, x, labels))
    predicted = int(jnp.argmax(apply(variables, x, None)["lengths"][0]))
    other = (predicted + 1) % 10
    by_prediction = apply(variables, x, None)["reconstruction"]
    np.testing.assert_allclose(apply(variables, x, jnp.array([predicted] * 2))["reconstruction"][0], by_prediction[0],
                               rtol=1e-6)
    assert not np.allclose(apply(variables, x, jnp.array([other] * 2))["reconstruction"][0], by_prediction[0])


def test_two_objects_margin_accuracy_and_separate_reconstructions():
    task = tasks.get("capsule", label_key="labels", targets=("first", "second"))
    lengths = jnp.array([[0.95, 0.3, 0.92, 0.05], [0.5, 0.2, 0.8, 0.6]])
    labels = jnp.array([[0, 2], [2, 1]])
    # example 0: both present above 0.9, absent 0.3 costs 0.5 (0.2)^2; example 1: present 0.8 and 0.2 cost
    # 0.1^2 + 0.7^2, absent 0.5 and 0.6 cost 0.5 (0.4^2 + 0.5^2)
    np.testing.assert_allclose(task.margin(lengths, labels), [0.5 * 0.04, 0.01 + 0.49 + 0.5 * 0.41], rtol=1e-5)

    model = models.get("capsnet_multimnist", num_classes=4)
    x = jax.random.uniform(jax.random.key(1), (2, 36, 36, 1))
    variables = jax.jit(model.init)(jax.random.key(0, impl="rbg"), x)
    out = jax.jit(lambda v, x, labels: model.apply(v, x, labels))(variables, x, labels)
    assert out["reconstruction"].shape == (2, 2, 36, 36, 1)
    single = jax.jit(lambda v, x, labels: model.apply(v, x, labels))(variables, x, labels[:, 1])
    np.testing.assert_allclose(out["reconstruction"][:, 1], single["reconstruction"], rtol=1e-5, atol=1e-6)

    # each object's picture against its own target; correct only when the two longest capsules are the two labels
    first, second = np.zeros((2, 36, 36, 1)), np.ones((2, 36, 36, 1))
    batch = {"input": x, "labels": labels, "first": first, "second": second}
    _, parts = task._per_example({"lengths": lengths, "reconstruction": out["reconstruction"]}, batch)
    pictures = np.asarray(out["reconstruction"])
    expected = ((pictures[:, 0] - first) ** 2).sum((1, 2, 3)) + ((pictures[:, 1] - second) ** 2).sum((1, 2, 3))
    np.testing.assert_allclose(parts["reconstruction"], expected, rtol=1e-5)
    np.testing.assert_array_equal(parts["accuracy"], [True, False])     # example 1's two longest are 2 and 3


def test_baseline_cnn_is_the_papers_layers_pooled():
    variables = jax.eval_shape(lambda: models.get("capsnet_baseline_cnn").init(jax.random.key(0), jnp.zeros((1, 28, 28, 1))))
    convs = (25 * 1 * 256 + 256) + (25 * 256 * 256 + 256) + (25 * 256 * 128 + 128)
    dense = (7 * 7 * 128 * 328 + 328) + (328 * 192 + 192) + (192 * 10 + 10)
    assert complexity.count_params(variables["params"]) == convs + dense == 4_587_282


def test_strided_conv_by_blocks_equals_a_stride_2_convolution():
    for size in (20, 21):
        x = jax.random.normal(jax.random.key(0), (2, size, size + 3, 5))
        conv = capsnet.StridedConv(7, 9)
        variables = conv.init(jax.random.key(1), x)
        kernel, bias = variables["params"]["kernel"], variables["params"]["bias"]
        expected = jax.lax.conv_general_dilated(x, kernel, (2, 2), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        np.testing.assert_allclose(conv.apply(variables, x), expected + bias, rtol=1e-5, atol=1e-5)


def test_the_task_names_missing_keys_and_objects_without_a_target():
    from deepzoo import data
    source = data.ArraySource({"input": np.zeros((4, 36, 36, 1), np.float32), "labels": np.zeros((4, 2), np.int32),
                               "first": np.zeros((4, 36, 36, 1), np.float32)}, 10)
    with pytest.raises(ValueError, match=r"reads \['second'\].*task.kwargs.label_key and targets"):
        tasks.get("capsule", label_key="labels", targets=("first", "second")).validate(
            {"lengths": (4, 10)}, source, "capsnet_multimnist")
    with pytest.raises(ValueError, match="2 labelled objects per image but 1 reconstruction targets"):
        tasks.get("capsule", label_key="labels").validate({"lengths": (4, 10)}, source, "capsnet_multimnist")


@pytest.mark.slow
def test_capsules_experiment_writes_its_table_and_figure(run_experiment):
    out = run_experiment("capsules.py", "--variant=smoke")
    table = (out / "results.md").read_text()
    assert "CapsNet, 3 routing iterations" in table and "baseline CNN" in table and "overlapping pairs" in table
    assert (out / "capsules.png").stat().st_size > 10_000

"""The MAC and parameter counter against closed forms: conv, depthwise conv, dense, attention, loops."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest

from deepzoo import models
from deepzoo.analysis import complexity


def _conv_macs(x_shape, features, kernel, **conv_kwargs):
    conv = nn.Conv(features, kernel, **conv_kwargs)
    x = jnp.zeros(x_shape)
    variables = jax.eval_shape(conv.init, jax.random.key(0), x)
    return complexity.count_macs(conv.apply, variables, x), jax.eval_shape(conv.apply, variables, x).shape


def test_convolution_is_output_size_times_window_times_input_channels():
    macs, out = _conv_macs((2, 28, 28, 192), 256, (3, 3), padding="SAME")
    assert out == (2, 28, 28, 256)
    assert macs == 2 * 28 * 28 * 256 * 3 * 3 * 192  # test_googlenet's Inception comparison, 3x3 row: 346.8M per example


def test_strided_and_grouped_convolutions():
    macs, out = _conv_macs((1, 224, 224, 3), 64, (7, 7), strides=2, padding=3)
    assert out == (1, 112, 112, 64) and macs == 112 * 112 * 64 * 7 * 7 * 3
    # Depthwise (ConvNeXt's 7x7): each output channel sees one input channel.
    macs, _ = _conv_macs((1, 56, 56, 96), 96, (7, 7), padding=3, feature_group_count=96)
    assert macs == 56 * 56 * 96 * 7 * 7
    macs, _ = _conv_macs((1, 8, 8, 32), 64, (3, 3), padding=1, feature_group_count=4)
    assert macs == 8 * 8 * 64 * 3 * 3 * (32 // 4)


def test_dense_and_batched_matmuls():
    assert complexity.count_macs(lambda a, b: a @ b, jnp.zeros((5, 7)), jnp.zeros((7, 3))) == 5 * 7 * 3
    q, k = jnp.zeros((2, 4, 10, 16)), jnp.zeros((2, 4, 12, 16))  # batch, heads, length, head dim
    scores = complexity.count_macs(lambda q, k: jnp.einsum("bhqd,bhkd->bhqk", q, k), q, k)
    assert scores == 2 * 4 * 10 * 12 * 16


def test_loops_and_nested_programs():
    w = jnp.zeros((8, 8))

    def rnn(h):
        return jax.lax.scan(lambda h, _: (jnp.tanh(h @ w), None), h, None, length=5)[0]

    assert complexity.count_macs(jax.jit(rnn), jnp.zeros((3, 8))) == 5 * 3 * 8 * 8

    def branchy(p, x):  # a cond runs one branch: the dearer one is counted
        return jax.lax.cond(p, lambda x: x @ w @ w, lambda x: x @ w, x)

    assert complexity.count_macs(branchy, True, jnp.zeros((1, 8))) == 2 * 64


def test_profile_counts_per_example_and_layers():
    summary = models.summary("mlp", quiet=True)  # 40 -> 100 -> 100 -> 10
    assert summary.params == 40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10
    assert summary.macs == 40 * 100 + 100 * 100 + 100 * 10
    assert summary.output_shape == (10,) and summary.output_dtype == "float32"
    assert [layer for layer, _, _ in summary.layers] == ["hidden_0", "hidden_1", "output"]
    assert sum(p for _, p, _ in summary.layers) == summary.params
    assert sum(m for _, _, m in summary.layers) == summary.macs


def test_batch_norm_statistics_are_state_not_parameters():
    summary = models.summary("mlp", batch_norm=True, quiet=True)
    assert summary.state == 2 * (100 + 100)  # mean and variance of two hidden layers
    assert summary.params == 40 * 100 + 100 * 100 + 2 * 2 * 100 + 100 * 10 + 10


def test_summary_prints_a_table(capsys):
    models.summary("mlp", width=32)
    printed = capsys.readouterr().out
    assert "hidden_0" in printed and "total" in printed and "MACs per example" in printed


def test_unknown_model_lists_known_ones():
    with pytest.raises(KeyError, match="Known models"):
        models.summary("resnet5O")

"""The Transformer of Vaswani et al. 2017: a NumPy forward pass, the paper's sizes and formulas, cached
decoding equal to teacher forcing, checkpoint averaging."""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_vit import np_layer_norm, np_mha, num_params

from deepzoo import config as config_lib
from deepzoo import models
from deepzoo.layers.positions import sinusoidal_positions
from deepzoo.inference import decoding
from deepzoo.train import optim
from deepzoo.train.checkpoint import Checkpoints, average_variables

TINY = dict(vocab_size=20, d_model=8, num_heads=2, mlp_dim=16, encoder_layers=1, decoder_layers=1,
            dropout_rate=0.0, max_length=12)
SOURCE = np.array([[5, 6, 7, 8, 1, 0], [9, 4, 1, 0, 0, 0]], np.int32)     # EOS 1, then PAD 0
PREVIOUS = np.array([[2, 11, 12, 13, 14], [2, 15, 16, 1, 0]], np.int32)   # BOS 2, then the target


@functools.cache
def tiny(pre_norm=False):
    model = models.get("transformer_small", pre_norm=pre_norm, **TINY)
    variables = jax.jit(model.init)(jax.random.key(0), SOURCE, PREVIOUS)
    return model, variables


def test_sinusoids_equal_the_papers_formula():
    table = np.asarray(sinusoidal_positions(50, 16))
    for pos in (0, 1, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert table[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)


def np_transformer(p, source, previous, d):
    """Figure 1 of the paper in NumPy, one encoder and one decoder layer, post-LN, ReLU FFN, tied output."""
    E = np.asarray(p["shared_embedding"]["embedding"])
    pe = lambda n: np.array([[math.sin(t / 10000 ** (j / d)) if j % 2 == 0 else math.cos(t / 10000 ** ((j - 1) / d))
                              for j in range(d)] for t in range(n)])
    ffn = lambda q, y: np.maximum(y @ q["fc1"]["kernel"] + q["fc1"]["bias"], 0) @ q["fc2"]["kernel"] + q["fc2"]["bias"]
    ln = lambda y, q: np_layer_norm(y, q, 1e-6)
    source_mask = (source != 0)[:, None, None, :]
    x = E[source] * math.sqrt(d) + pe(source.shape[1])
    enc = p["encoder_block1"]
    x = ln(x + np_mha(enc["attention"], x, x, source_mask), enc["norm1"])
    memory = ln(x + ffn(enc["mlp"], x), enc["norm2"])
    y = E[previous] * math.sqrt(d) + pe(previous.shape[1])
    dec, causal = p["decoder_block1"], np.tril(np.ones((previous.shape[1],) * 2, bool))
    y = ln(y + np_mha(dec["attention"], y, y, causal), dec["norm1"])
    y = ln(y + np_mha(dec["cross_attention"], y, memory, source_mask), dec["norm2"])
    y = ln(y + ffn(dec["mlp"], y), dec["norm3"])
    return y @ E.T


def test_transformer_equals_numpy():
    model, variables = tiny()
    rng = np.random.default_rng(0)   # perturb every parameter (LayerNorms start at 1 and 0)
    params = jax.tree.map(lambda a: np.asarray(a) + 0.1 * rng.normal(size=a.shape).astype(np.float32),
                          variables["params"])
    np.testing.assert_allclose(model.apply({"params": params}, SOURCE, PREVIOUS),
                               np_transformer(params, SOURCE, PREVIOUS, 8), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name, paper, exact", [("transformer_base", 65e6, 63_082_496),
                                                ("transformer_big", 213e6, 214_245_376)])
def test_parameter_counts_within_3_percent_of_the_paper(name, paper, exact):
    model = models.get(name)  # a shared vocabulary of 37,000 tokens
    tokens = jax.ShapeDtypeStruct((1, 64), jnp.int32)
    count = num_params(jax.eval_shape(model.init, jax.random.key(0), tokens, tokens)["params"])
    assert count == exact and abs(count / paper - 1) < 0.03


@pytest.mark.parametrize("pre_norm", [False, True])
def test_cached_decoding_equals_teacher_forcing(pre_norm):
    model, variables = tiny(pre_norm)
    full = model.apply(variables, SOURCE, PREVIOUS)
    state = model.apply(variables, SOURCE, 8, method="start_decoding")
    step = jax.jit(lambda tokens, state: model.apply(variables, tokens, state, method="decode_step"))
    logits = []
    for t in range(PREVIOUS.shape[1]):
        out, state = step(PREVIOUS[:, t], state)
        logits.append(out)
    np.testing.assert_allclose(np.stack(logits, 1), full, rtol=1e-5, atol=1e-5)
    assert int(state["cache"][0]["index"]) == PREVIOUS.shape[1]


def test_decoder_sees_no_future_and_encoder_no_padding():
    model, variables = tiny()
    base = model.apply(variables, SOURCE, PREVIOUS)
    later = PREVIOUS.copy()
    later[:, 3:] = 7                                   # change the future of position 2
    np.testing.assert_allclose(model.apply(variables, SOURCE, later)[:, :3], base[:, :3], atol=1e-6)
    assert not np.allclose(model.apply(variables, SOURCE, later)[:, 3:], base[:, 3:])
    padded = np.pad(SOURCE, ((0, 0), (0, 4)))          # more PAD after EOS changes nothing
    np.testing.assert_allclose(model.apply(variables, padded, PREVIOUS), base, atol=1e-5)


@pytest.mark.slow   # ~14 s
def test_beam_search_over_the_cache_finds_a_hypothesis_at_least_as_likely_as_greedy():
    model, variables = tiny()
    greedy = decoding.generate(model, variables, SOURCE, max_length=8, bos_id=2, eos_id=1)
    beam = decoding.generate(model, variables, SOURCE, max_length=8, bos_id=2, eos_id=1, beam_size=4,
                             length_penalty=0.0)

    def logp(tokens):  # teacher-forced log-probability of each row, up to and with its first EOS
        tokens = np.asarray(tokens)
        previous = np.concatenate([np.full((2, 1), 2), tokens[:, :-1]], 1)
        lp = np.asarray(jax.nn.log_softmax(model.apply(variables, SOURCE, previous)))
        picked = np.take_along_axis(lp, tokens[..., None], -1)[..., 0]
        upto_eos = np.cumsum(tokens == 1, 1) - (tokens == 1) == 0
        return (picked * upto_eos).sum(1)
    one = decoding.generate(model, variables, SOURCE, max_length=8, bos_id=2, eos_id=1, beam_size=1)
    np.testing.assert_array_equal(one, greedy)
    assert np.all(logp(beam) >= logp(greedy) - 1e-5)


def test_too_long_inputs_name_the_position_table():
    model, variables = tiny()
    with pytest.raises(ValueError, match=r"source tokens of length 13 exceed the 12 positions"):
        model.apply(variables, np.ones((1, 13), np.int32), PREVIOUS[:1])
    with pytest.raises(ValueError, match=r"decoded tokens of length 20 exceed the 12 positions"):
        model.apply(variables, SOURCE, 20, method="start_decoding")
    with pytest.raises(ValueError, match=r"vocabulary has 20 tokens"):
        model.apply(variables, SOURCE + 20, PREVIOUS)


def test_rsqrt_schedule_is_the_papers_lrate():
    d, warmup = 512, 4000
    lr = optim.rsqrt_schedule(d ** -0.5 * warmup ** -0.5, warmup)
    for step in (1, 100, 4000, 4001, 100_000):
        paper = d ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)
        assert float(lr(step - 1)) == pytest.approx(paper, rel=1e-5)


def test_wmt_config_uses_the_papers_optimizer():
    config = config_lib.load("configs/wmt14_transformer.py:base")
    tx, lr = optim.create(config.optimizer, config.num_train_steps)
    assert (config.optimizer.b1, config.optimizer.b2, config.optimizer.eps) == (0.9, 0.98, 1e-9)
    assert float(lr(3999)) == pytest.approx(512 ** -0.5 * 4000 ** -0.5, rel=1e-5)
    assert config.task.kwargs.label_smoothing == 0.1 and config.model.kwargs.dropout_rate == 0.1
    big = config_lib.load("configs/wmt14_transformer.py:big")
    assert big.model.kwargs.dropout_rate == 0.3 and big.model.name == "transformer_big"


def test_checkpoint_averaging_is_the_mean_of_the_last_n(tmp_path):
    checkpoints = Checkpoints(tmp_path / "checkpoints", max_to_keep=3)
    for step in (1, 2, 3):
        checkpoints.save(step, {"params": {"w": np.full((2, 3), float(step), np.float32)},
                                "model_state": {"batch_stats": {"mean": np.full((3,), 10.0 * step, np.float32)}}})
    checkpoints.wait()
    averaged = average_variables(tmp_path, 2)
    np.testing.assert_allclose(averaged["params"]["w"], 2.5)
    np.testing.assert_allclose(averaged["batch_stats"]["mean"], 30.0)   # the newest one's statistics
    with pytest.raises(ValueError, match=r"keep_checkpoints >= 5"):
        average_variables(tmp_path, 5)


def test_a_checkpoint_of_another_vocabulary_is_named():
    model, variables = tiny()
    other = models.get("transformer_small", **{**TINY, "vocab_size": 30})
    with pytest.raises(Exception, match=r"shared_embedding.*shape \(30, 8\).*shape \(20, 8\)"):
        other.apply(variables, SOURCE, PREVIOUS)


def test_a_mask_of_the_wrong_shape_is_named():
    from deepzoo.layers.attention import MultiHeadAttention
    x = np.ones((2, 5, 8), np.float32)
    layer = MultiHeadAttention(num_heads=2)
    params = layer.init(jax.random.key(0), x)
    with pytest.raises(ValueError, match=r"mask of shape \(2, 4\) does not broadcast .* \(2, 2, 5, 5\)"):
        layer.apply(params, x, mask=np.ones((2, 4), bool))

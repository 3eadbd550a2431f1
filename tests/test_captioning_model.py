"""ShowAttendTell (deepzoo/models/captioning.py): shapes, the soft attention against a NumPy re-implementation
of the paper's equations, step-by-step decoding against teacher forcing, decoding under jit, errors, bf16."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import models
from deepzoo.inference import decoding
from deepzoo.layers.attention import sown_attention_weights
from deepzoo.models.captioning import ShowAttendTell

PAD, EOS, BOS = 0, 1, 2
VOCAB = 35
SMALL = dict(vocab_size=VOCAB, embed_dim=8, features=16, cnn=("conv3-8", "maxpool", "conv3-8", "maxpool"))
T = 5


def _images(batch=2, height=28, width=112, seed=0):
    return jax.random.uniform(jax.random.key(seed), (batch, height, width, 1))


def _previous(batch=2, seed=1):
    words = jax.random.randint(jax.random.key(seed), (batch, T - 1), 4, VOCAB)
    return jnp.concatenate([jnp.full((batch, 1), BOS), words], axis=1).astype(jnp.int32)


def _logits_and_attention(model, variables, *inputs):
    """Teacher-forced logits and the attention weights the decoder sows (one head): (B, T, source)."""
    logits, state = model.apply(variables, *inputs, mutable=["intermediates"])
    return logits, sown_attention_weights(state["intermediates"])["decoder"][:, 0]


@pytest.fixture(scope="module")
def small():
    model = ShowAttendTell(**SMALL)
    variables = model.init(jax.random.key(0, impl="rbg"), _images(), _previous())
    return model, variables


def test_shapes_and_dtypes_in_train_and_eval_mode(small):
    model, variables = small
    x, prev = _images(), _previous()
    logits, alpha = _logits_and_attention(model, variables, x, prev)
    h, w = model.grid_shape((28, 112))
    assert (h, w) == (7, 28)
    assert logits.shape == (2, T, VOCAB) and logits.dtype == jnp.float32
    assert alpha.shape == (2, T, h * w) and alpha.dtype == jnp.float32
    # Train mode: BatchNorm statistics change (same shapes), dropout needs its rng.
    dropout = ShowAttendTell(**SMALL, dropout_rate=0.5)
    out, state = dropout.apply(variables, x, prev, train=True, rngs={"dropout": jax.random.key(1)},
                               mutable=["batch_stats"])
    assert out.shape == (2, T, VOCAB) and bool(jnp.all(jnp.isfinite(out)))
    assert jax.tree.map(jnp.shape, state["batch_stats"]) == jax.tree.map(jnp.shape, variables["batch_stats"])
    assert not np.allclose(state["batch_stats"]["encoder"]["conv1_1_bn"]["mean"],
                           variables["batch_stats"]["encoder"]["conv1_1_bn"]["mean"])
    eval_again = dropout.apply(variables, x, prev)   # eval: dropout off, running statistics
    np.testing.assert_allclose(eval_again, logits, rtol=1e-6, atol=1e-6)


def test_grid_shape_rounds_odd_sizes_up_and_matches_the_attention():
    model = ShowAttendTell(**SMALL)
    x = _images(1, 27, 30)   # 27 -> 14 -> 7, 30 -> 15 -> 8
    variables = model.init(jax.random.key(0, impl="rbg"), x, _previous(1))
    _, alpha = _logits_and_attention(model, variables, x, _previous(1))
    assert model.grid_shape((27, 30)) == (7, 8) and alpha.shape == (1, T, 56)


def test_regions_are_the_grid_in_row_major_order():
    # A 1x1 convolution without pooling: region i * w + j sees pixel (i, j) only, so one bright pixel
    # lights exactly one annotation, the one attention maps reshape back to (i, j).
    model = ShowAttendTell(**{**SMALL, "cnn": ("conv1-4",)}, batch_norm=False)
    x = jnp.zeros((1, 3, 5, 1)).at[0, 2, 1, 0].set(1.0)
    variables = model.init(jax.random.key(3), x, _previous(1))
    kernel = variables["params"]["encoder"]["conv1_1"]["kernel"]
    variables["params"]["encoder"]["conv1_1"]["kernel"] = jnp.abs(kernel)   # every channel fires
    annotations, mask, summary = model.apply(variables, x, method="encode")
    lit = np.flatnonzero(np.abs(np.asarray(annotations[0])).sum(-1))
    assert lit.tolist() == [2 * 5 + 1]
    assert mask.shape == (1, 15) and bool(jnp.all(mask))
    np.testing.assert_allclose(summary, annotations.mean(axis=1), rtol=1e-6)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _numpy_decoder(params, a, previous):
    """The soft-attention LSTM decoder written out in NumPy from the paper's equations (with the shared
    decoder's bridge h_0 = tanh(W mean(a) + b), c_0 = 0 and output tanh(W_c [z_t; h_t]))."""
    p = jax.tree.map(lambda x: np.asarray(x, np.float64), params)
    a = np.asarray(a, np.float64)
    h = np.tanh(a.mean(1) @ p["bridge"]["kernel"] + p["bridge"]["bias"])
    c = np.zeros_like(h)
    keys = a @ p["keys"]["kernel"]                                      # U a_i, once per image
    step = p["step"]
    logits, alphas = [], []
    for t in range(previous.shape[1]):
        e = (np.tanh(keys + (h @ step["query"]["kernel"])[:, None]) @ step["score"]["kernel"])[..., 0]
        alpha = _softmax(e)                                             # over the L regions
        z = np.einsum("bl,bld->bd", alpha, a)
        y = p["embed"]["embedding"][np.asarray(previous[:, t])]
        gates = np.concatenate([y, z], -1) @ step["layer1"]["Wx"] + h @ step["layer1"]["Wh"] + step["layer1"]["b"]
        i, f, o, g = np.split(gates, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        out = np.tanh(np.concatenate([z, h], -1) @ step["combine"]["kernel"])
        logits.append(out @ p["head"]["kernel"] + p["head"]["bias"])
        alphas.append(alpha)
    return np.stack(logits, 1), np.stack(alphas, 1)


def test_soft_attention_decoder_matches_a_numpy_reference(small):
    model, variables = small
    x, prev = _images(), _previous()
    logits, alpha = _logits_and_attention(model, variables, x, prev)
    annotations = model.apply(variables, x, method="encode")[0]
    want_logits, want_alpha = _numpy_decoder(variables["params"]["decoder"], annotations, prev)
    np.testing.assert_allclose(alpha, want_alpha, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(logits, want_logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(alpha.sum(-1), 1.0, rtol=1e-5)
    assert float(alpha.min()) > 0.0   # every region is real: none is masked out


def test_decode_step_reproduces_teacher_forced_logits(small):
    model, variables = small
    x, prev = _images(), _previous()
    want = model.apply(variables, x, prev)
    state = model.apply(variables, x, method="start_decoding")
    for t in range(T):
        logits, state = model.apply(variables, prev[:, t], state, method="decode_step")
        np.testing.assert_allclose(logits, want[:, t], rtol=1e-5, atol=1e-5, err_msg=f"position {t}")


@pytest.mark.parametrize("beam_size", [1, 3])
def test_generate_runs_under_jit_and_greedy_follows_its_own_teacher_forced_argmax(small, beam_size):
    model, variables = small
    x = _images(3)
    generate = jax.jit(functools.partial(decoding.generate, model, max_length=6, bos_id=BOS, eos_id=EOS,
                                         beam_size=beam_size))
    tokens = np.asarray(generate(variables, x))
    assert tokens.shape == (3, 6) and tokens.dtype == np.int32
    assert tokens.min() >= 0 and tokens.max() < VOCAB
    for row in tokens:   # after EOS only PAD
        ends = np.flatnonzero(row == EOS)
        if ends.size:
            assert np.all(row[ends[0] + 1:] == PAD)
    if beam_size == 1:
        # Fed its own output as the previous words, the model's argmax at every position up to the first
        # EOS is the token greedy decoding chose there.
        previous = jnp.concatenate([jnp.full((3, 1), BOS, jnp.int32), jnp.asarray(tokens[:, :-1])], 1)
        argmax = np.asarray(jnp.argmax(model.apply(variables, x, previous), -1))
        for row, best in zip(tokens, argmax):
            n = (np.flatnonzero(row == EOS)[0] + 1) if np.any(row == EOS) else len(row)
            np.testing.assert_array_equal(row[:n], best[:n])


def test_wrong_inputs_get_clear_errors(small):
    model, variables = small
    with pytest.raises(ValueError, match=r"add a batch axis"):
        model.apply(variables, jnp.ones((28, 112, 1)), _previous(1))
    with pytest.raises(ValueError, match=r"\(batch, height, width, channels\)"):
        model.apply(variables, jnp.ones((2, 28, 112, 1, 1)), _previous())
    with pytest.raises(ValueError, match=r"2 images but 3 rows"):
        model.apply(variables, _images(2), _previous(3))
    with pytest.raises(ValueError, match=r"vocabulary has 35 tokens"):
        model.apply(variables, _images(), _previous().at[0, 1].set(VOCAB))
    with pytest.raises(ValueError, match=r"conv<kernel>-<channels>"):
        ShowAttendTell(**{**SMALL, "cnn": ("conv3-8", "avgpool")}).init(jax.random.key(0), _images(), _previous())
    with pytest.raises(ValueError, match=r"at least one convolution"):
        ShowAttendTell(**{**SMALL, "cnn": ("maxpool",)}).init(jax.random.key(0), _images(), _previous())


def test_bfloat16_compute_with_float32_parameters(small):
    model, variables = small
    x, prev = _images(), _previous()
    bf16 = ShowAttendTell(**SMALL, dtype=jnp.bfloat16)
    assert jax.tree.map(jnp.shape, bf16.init(jax.random.key(0, impl="rbg"), x, prev)) == \
        jax.tree.map(jnp.shape, variables)
    logits, alpha = _logits_and_attention(bf16, variables, x, prev)
    assert logits.dtype == jnp.bfloat16 and alpha.dtype == jnp.float32   # softmax kept in float32
    np.testing.assert_allclose(alpha.sum(-1), 1.0, rtol=1e-5)
    want = model.apply(variables, x, prev)
    np.testing.assert_allclose(np.asarray(logits, np.float32), want, atol=0.05)


def test_registered_variants():
    mnist = models.summary("show_attend_tell_mnist", quiet=True)
    assert mnist.input_shape == ((28, 112, 1), ((12,), "int32")) and mnist.output_shape == (12, VOCAB)
    assert mnist.params < 0.5e6 and mnist.macs < 20e6, mnist   # trains on 2 CPU cores in minutes
    # The paper's annotations: VGG-19 conv5_4 on 224 x 224, 14 x 14 = 196 regions of 512 channels.
    paper = models.get("show_attend_tell")
    x = jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)
    prev = jax.ShapeDtypeStruct((1, 12), jnp.int32)
    variables = jax.eval_shape(lambda x, prev: paper.init(jax.random.key(0), x, prev), x, prev)
    annotations = jax.eval_shape(lambda v, x: paper.apply(v, x, method="encode")[0], variables, x)
    assert paper.grid_shape((224, 224)) == (14, 14) and annotations.shape == (1, 196, 512)
    assert "conv5_4" in variables["params"]["encoder"] and "conv5_5" not in variables["params"]["encoder"]

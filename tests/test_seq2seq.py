"""Independent checks of the sequence models and tasks: Seq2Seq (deepzoo/models/seq2seq.py), CharRNN
(deepzoo/models/char_rnn.py), and the language_model / seq2seq tasks (deepzoo/tasks/).

Seq2Seq runs once per (attention, cell, bidirectional) under one jit that gathers everything the checks
read (teacher-forced logits, step-by-step decoding, a padded source, the encoder's summary and the same
encoder run as plain recurrent.RNN layers); the checks compare those arrays. Losses and metrics are
compared with NumPy, on a bigram model whose every prediction is known.
"""
import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo.inference import decoding
from deepzoo.layers import recurrent
from deepzoo.layers.attention import sown_attention_weights
from deepzoo.models.char_rnn import CharRNN
from deepzoo.models.seq2seq import Seq2Seq
from deepzoo.tasks import language_model, seq2seq as seq2seq_task
from deepzoo.tasks.metrics import means

PAD, EOS, BOS = 0, 1, 2
V, E, F = 20, 6, 8            # vocabulary, embedding width, hidden units
KEY = jax.random.key(0, impl="rbg")
# Three sources of lengths 5, 3 and 7 (EOS included), right-padded with PAD to 7.
SOURCE = jnp.array([[5, 6, 7, 8, 1, 0, 0],
                    [9, 4, 1, 0, 0, 0, 0],
                    [10, 11, 12, 13, 14, 15, 1]], jnp.int32)
PADDED_SOURCE = jnp.pad(SOURCE, ((0, 0), (0, 3)))           # three more PAD at the end
PREVIOUS = jnp.array([[BOS, 3, 17, 5, 9],
                      [BOS, 12, 1, 0, 0],
                      [BOS, 19, 4, 4, 8]], jnp.int32)
T = PREVIOUS.shape[1]

CONFIGS = [(attention, cell, bidirectional) for attention in ("none", "bahdanau", "luong")
           for cell in ("lstm", "gru") for bidirectional in (True, False)]
IDS = [f"{a}-{c}-{'bi' if b else 'uni'}" for a, c, b in CONFIGS]


def _hidden(carry):
    return carry[1] if isinstance(carry, tuple) else carry


def _random_variables(model, *inputs):
    """Variables of `model` drawn from N(0, 0.4^2) with NumPy: any values serve these checks, and jitting
    the initialisers (orthogonal = a QR per matrix) would take most of the test's time to compile."""
    shapes = jax.eval_shape(model.init, KEY, *inputs)
    rng = np.random.default_rng(0)
    return jax.tree.map(lambda s: jnp.asarray(0.4 * rng.standard_normal(s.shape), s.dtype), shapes)


def _decode_chain(model, variables, state, previous):
    """decode_step fed previous[:, 0], previous[:, 1], ... from `state`: logits (B, T, vocab)."""
    def step(state, tokens):
        logits, state = model.apply(variables, tokens, state, method="decode_step")
        return state, logits
    return jnp.moveaxis(jax.lax.scan(step, state, previous.T)[1], 0, 1)


def _logits_and_attention(model, variables, *inputs):
    """Teacher-forced logits and the attention weights the decoder sows (one head): (B, T, source)."""
    logits, state = model.apply(variables, *inputs, mutable=["intermediates"])
    return logits, sown_attention_weights(state["intermediates"])["decoder"][:, 0]


@functools.lru_cache(maxsize=None)
def _seq2seq_run(attention, cell, bidirectional):
    """The model, its variables and every array the Seq2Seq checks below compare (NumPy)."""
    model = Seq2Seq(vocab_size=V, embed_dim=E, features=F, cell=cell, attention=attention,
                    bidirectional=bidirectional)
    variables = _random_variables(model, SOURCE, PREVIOUS)

    @jax.jit
    def run(variables):
        out = {}
        out["logits"], out["weights"] = _logits_and_attention(model, variables, SOURCE, PREVIOUS)
        out["padded_logits"], out["padded_weights"] = _logits_and_attention(model, variables, PADDED_SOURCE,
                                                                            PREVIOUS)
        chain = lambda state: _decode_chain(model, variables, state, PREVIOUS)
        state = model.apply(variables, SOURCE, method="start_decoding")
        out["steps"] = chain(state)
        # The same state with the memory (and its keys) replaced by noise; the summary stays.
        noise = lambda seed, x: 3.0 * jax.random.normal(jax.random.key(seed), x.shape)
        out["scrambled_steps"] = chain({**state, "memory": noise(7, state["memory"]),
                                        "keys": noise(8, state["keys"])})

        # The encoder's summary against its cells run as plain recurrent.RNN layers, same params.
        out["memory"], _, out["summary"] = model.apply(variables, SOURCE, method="encode")
        layer = variables["params"]["encoder"]["layer_0"]
        x = variables["params"]["source_embed"]["embedding"][SOURCE]
        mask = SOURCE != PAD
        rnn = lambda reverse: recurrent.RNN(recurrent.CELLS[cell](F), reverse=reverse)
        if bidirectional:
            forward, _ = rnn(False).apply({"params": {"cell": layer["forward_cell"]}}, x, mask)
            backward, _ = rnn(True).apply({"params": {"cell": layer["backward_cell"]}}, x, mask)
            out["rnn_summary"] = jnp.concatenate([_hidden(forward), _hidden(backward)], -1)
        else:
            forward, _ = rnn(False).apply({"params": {"cell": layer["cell"]}}, x, mask)
            out["rnn_summary"] = _hidden(forward)
        return out

    return model, variables, jax.device_get(run(variables))


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_decode_step_reproduces_teacher_forced_logits(config):
    _, _, out = _seq2seq_run(*config)
    assert out["logits"].shape == (3, T, V)
    np.testing.assert_allclose(out["steps"], out["logits"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_extra_padding_at_the_end_of_the_source_changes_nothing(config):
    _, _, out = _seq2seq_run(*config)
    S = SOURCE.shape[1]
    np.testing.assert_allclose(out["padded_logits"], out["logits"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["padded_weights"][..., :S], out["weights"], rtol=1e-5, atol=1e-7)
    assert np.all(out["padded_weights"][..., S:] == 0.0)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_attention_weights_are_a_distribution_over_the_real_source_tokens(config):
    attention = config[0]
    _, _, out = _seq2seq_run(*config)
    weights = out["weights"]
    assert weights.shape == (3, T, SOURCE.shape[1]) and weights.dtype == np.float32
    if attention == "none":
        assert np.all(weights == 0.0)
        return
    pad = np.broadcast_to(np.asarray(SOURCE == PAD)[:, None, :], weights.shape)
    assert np.all(weights[pad] == 0.0)
    assert np.all(weights[~pad] > 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_without_attention_the_decoder_sees_the_source_only_through_the_summary(config):
    attention = config[0]
    _, _, out = _seq2seq_run(*config)
    if attention == "none":
        np.testing.assert_array_equal(out["scrambled_steps"], out["steps"])
    else:   # the same substitution does change an attentive decoder: the check above has teeth
        assert np.max(np.abs(out["scrambled_steps"] - out["steps"])) > 1e-3


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_summary_is_forward_state_at_the_last_real_token_and_backward_state_at_the_first(config):
    bidirectional = config[2]
    _, _, out = _seq2seq_run(*config)
    assert out["summary"].shape == (3, 2 * F if bidirectional else F)
    np.testing.assert_allclose(out["summary"], out["rnn_summary"], rtol=1e-5, atol=1e-6)
    # ... which is also the memory at those positions: row 1 ends at position 2.
    np.testing.assert_allclose(out["summary"][1, :F], out["memory"][1, 2, :F], rtol=1e-6)


def _cell_params(cell, n_in, h):
    """Closed form: LSTM Wx (n_in, 4h), Wh (h, 4h), b (4h); GRU Wx (n_in, 3h), Wh (h, 3h), bx, bh (3h);
    vanilla RNN Wx (n_in, h), Wh (h, h), b (h)."""
    gates, biases = {"lstm": (4, 1), "gru": (3, 2), "rnn": (1, 1)}[cell]
    return gates * h * (n_in + h) + biases * gates * h


@pytest.mark.parametrize("attention, cell, bidirectional, encoder_layers, decoder_layers", [
    ("bahdanau", "gru", True, 1, 1),
    ("luong", "lstm", False, 2, 2),
    ("none", "gru", False, 1, 1),
    ("bahdanau", "lstm", True, 2, 1),
])
def test_seq2seq_parameter_count_has_a_closed_form(attention, cell, bidirectional, encoder_layers,
                                                   decoder_layers):
    model = Seq2Seq(vocab_size=V, embed_dim=E, features=F, cell=cell, attention=attention,
                    bidirectional=bidirectional, encoder_layers=encoder_layers, decoder_layers=decoder_layers)
    params = jax.eval_shape(model.init, KEY, SOURCE, PREVIOUS)["params"]
    directions = 2 if bidirectional else 1
    M = directions * F                                        # width of the memory and of the summary
    encoder = sum(directions * _cell_params(cell, E if i == 0 else M, F) for i in range(encoder_layers))
    step_input = E + (F if attention == "luong" else M)       # y_{t-1} with h~_{t-1} (Luong) or the context
    decoder_cells = sum(_cell_params(cell, step_input if i == 0 else F, F) for i in range(decoder_layers))
    want = (V * E                                             # source embeddings
            + encoder
            + V * E                                           # target embeddings
            + (0 if attention == "none" else M * F)           # keys: U (Bahdanau) or W_a (Luong), no bias
            + M * F + F                                       # bridge s_0 = tanh(W_s c + b)
            + decoder_cells
            + (F * F + F if attention == "bahdanau" else 0)   # query W and score v, no biases
            + (M + F) * F                                     # combine W_c [c; h], no bias
            + F * V + V)                                      # output layer
    assert sum(math.prod(p.shape) for p in jax.tree.leaves(params)) == want


@functools.lru_cache(maxsize=None)
def _small_seq2seq():
    model = Seq2Seq(vocab_size=V, embed_dim=E, features=F, cell="gru", attention="bahdanau")
    return model, _random_variables(model, SOURCE, PREVIOUS)


def test_seq2seq_errors_name_the_problem():
    model, variables = _small_seq2seq()
    with pytest.raises(ValueError, match=r"source tokens hold ids in \[0, 20\].*vocabulary has 20 tokens"):
        model.apply(variables, SOURCE.at[0, 0].set(V), PREVIOUS)
    with pytest.raises(ValueError, match=r"decoder inputs hold ids in \[-1, 19\]"):
        model.apply(variables, SOURCE, PREVIOUS.at[1, 1].set(-1))
    with pytest.raises(ValueError, match=r"empty source tokens \(length 0\)"):
        model.apply(variables, SOURCE[:, :0], PREVIOUS)
    with pytest.raises(ValueError, match=r"empty decoder inputs \(length 0\)"):
        model.apply(variables, SOURCE, PREVIOUS[:, :0])
    with pytest.raises(ValueError, match=r"source batch has 3 rows but the decoder inputs have 2"):
        model.apply(variables, SOURCE, PREVIOUS[:2])
    with pytest.raises(ValueError, match=r"unknown attention 'dot'; known: none, bahdanau, luong"):
        Seq2Seq(vocab_size=V, embed_dim=E, features=F, attention="dot").init(KEY, SOURCE, PREVIOUS)
    with pytest.raises(ValueError, match=r"unknown cell 'lstn'; known: gru, lstm, rnn"):
        Seq2Seq(vocab_size=V, embed_dim=E, features=F, cell="lstn").init(KEY, SOURCE, PREVIOUS)


def test_seq2seq_greedy_generate_follows_its_own_teacher_forced_argmax():
    model, variables = _small_seq2seq()
    tokens = np.asarray(jax.jit(functools.partial(decoding.generate, model, max_length=6, bos_id=BOS,
                                                  eos_id=EOS))(variables, SOURCE))
    previous = jnp.concatenate([jnp.full((3, 1), BOS, jnp.int32), jnp.asarray(tokens[:, :-1])], 1)
    argmax = np.asarray(jnp.argmax(model.apply(variables, SOURCE, previous), -1))
    for row, best in zip(tokens, argmax):
        n = (np.flatnonzero(row == EOS)[0] + 1) if np.any(row == EOS) else len(row)
        np.testing.assert_array_equal(row[:n], best[:n])


# ---- CharRNN -----------------------------------------------------------------------------------

TEXT = jnp.array([[4, 9, 13, 13, 17, 5], [19, 3, 8, 8, 1, 0]], jnp.int32)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_char_rnn_decoding_reproduces_the_teacher_forced_logits(cell):
    model = CharRNN(vocab_size=V, embed_dim=E, features=F, num_layers=2, cell=cell)
    variables = _random_variables(model, TEXT)

    @jax.jit
    def run(variables):
        logits = model.apply(variables, TEXT)
        state = model.apply(variables, TEXT[:, :1], method="start_decoding")   # a 1-token prompt: zeros
        steps = _decode_chain(model, variables, state, TEXT)
        # Prompt: start_decoding reads all but the last character; decode_step on it continues.
        prompt_state = model.apply(variables, TEXT, method="start_decoding")
        after_prompt, _ = model.apply(variables, TEXT[:, -1], prompt_state, method="decode_step")
        return logits, steps, after_prompt

    logits, steps, after_prompt = jax.device_get(run(variables))
    assert logits.shape == (2, TEXT.shape[1], V)
    np.testing.assert_allclose(steps, logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(after_prompt, logits[:, -1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_char_rnn_parameter_count_has_a_closed_form(cell, num_layers):
    model = CharRNN(vocab_size=V, embed_dim=E, features=F, num_layers=num_layers, cell=cell)
    params = jax.eval_shape(model.init, KEY, TEXT)["params"]
    want = V * E + sum(_cell_params(cell, E if i == 0 else F, F) for i in range(num_layers)) + F * V + V
    assert sum(math.prod(p.shape) for p in jax.tree.leaves(params)) == want


# ---- tasks -------------------------------------------------------------------------------------

W = 8   # the bigram models' vocabulary: PAD EOS BOS UNK and 4 .. 7
CHAIN = {BOS: 5, 5: 6, 6: 7, 7: EOS}   # the argmax successor of these tokens; greedy writes 5 6 7 EOS


def _table():
    table = np.random.default_rng(0).normal(size=(W, W)).astype(np.float32)
    for a, b in CHAIN.items():
        table[a, b] = 10.0
    return table


class Bigram(nn.Module):
    """logits = table[previous token]: every prediction is known. Reads (tokens,) as a language model
    and (source, previous) as a seq2seq model, whose source it ignores."""

    def setup(self):
        self.table = self.param("table", nn.initializers.zeros, (W, W))

    def __call__(self, *inputs, train: bool = False):
        return self.table[inputs[-1]]

    def start_decoding(self, source, max_length=None):
        return {"row": jnp.zeros(source.shape[0])}

    def decode_step(self, tokens, state):
        return self.table[tokens], state


def _numpy_metrics(logits, targets, weights, label_smoothing=0.0):
    """Per-token cross-entropy and the metrics pairs, in float64 NumPy."""
    logits = np.asarray(logits, np.float64)
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    onehot = np.eye(logits.shape[-1])[targets]
    q = (1 - label_smoothing) * onehot + label_smoothing / logits.shape[-1]
    ce = -(q * logp).sum(-1)
    correct = logits.argmax(-1) == targets
    real = weights.max(-1)
    all_right = np.all(correct | (weights == 0), -1)
    return {"loss": ((ce * weights).sum(), weights.sum()),
            "bits_per_token": ((ce / np.log(2) * weights).sum(), weights.sum()),
            "token_accuracy": ((correct * weights).sum(), weights.sum()),
            "sequence_accuracy": ((all_right * real).sum(), real.sum())}


def _assert_metrics(got, want):
    for name, (s, c) in want.items():
        np.testing.assert_allclose([float(got[name][0]), float(got[name][1])], [s, c], rtol=1e-5, atol=1e-5,
                                   err_msg=name)


def test_shift_right():
    target = jnp.array([[5, 6, 1, 0], [7, 1, 0, 0]], jnp.int32)
    np.testing.assert_array_equal(seq2seq_task.shift_right(target, BOS), [[BOS, 5, 6, 1], [BOS, 7, 1, 0]])


def test_exact_match_pads_the_shorter_side():
    tokens = jnp.array([[5, 6, 1, 0, 0, 0],    # = target row 0 padded
                        [5, 6, 1, 0, 0, 4],    # a token after the padding: no match
                        [5, 7, 1, 0, 0, 0]], jnp.int32)
    target = jnp.array([[5, 6, 1, 0], [5, 6, 1, 0], [5, 6, 1, 0]], jnp.int32)
    np.testing.assert_array_equal(seq2seq_task.exact_match(tokens, target), [True, False, False])
    np.testing.assert_array_equal(seq2seq_task.exact_match(target, tokens), [True, False, False])
    np.testing.assert_array_equal(seq2seq_task.exact_match(tokens[:, :3], target), [True, True, False])


def test_language_model_loss_and_metrics_match_numpy():
    tokens = np.array([[BOS, 5, 6, 7, 1, 0],       # follows the bigram argmax: all right
                       [BOS, 5, 4, 7, 1, 0],
                       [BOS, 3, 3, 1, 0, 0],
                       [BOS, 5, 6, 7, 4, 4]], np.int32)   # an evaluation-padding example (mask 0)
    mask = np.array([1, 1, 1, 0], np.float32)
    table, task, model = jnp.asarray(_table()), language_model.LanguageModel(), Bigram()
    batch = {"tokens": jnp.asarray(tokens), "mask": jnp.asarray(mask)}
    logits, targets = table[tokens[:, :-1]], tokens[:, 1:]
    weights = (targets != PAD).astype(np.float64)

    loss, (state, metrics) = task.loss(model, {"table": table}, {}, batch, {"dropout": KEY})
    want = _numpy_metrics(logits, targets, weights)
    assert state == {}
    np.testing.assert_allclose(float(loss), want["loss"][0] / want["loss"][1], rtol=1e-5)
    _assert_metrics(metrics, want)
    assert want["sequence_accuracy"] == (1.0, 4.0)   # the batch exercises a right and wrong sequences

    evaluated = task.evaluate(model, {"table": table}, {}, batch)
    want = _numpy_metrics(logits, targets, weights * mask[:, None])
    _assert_metrics(evaluated, want)
    assert want["sequence_accuracy"][1] == 3.0
    m = means(evaluated)
    assert m["bits_per_token"] == pytest.approx(m["loss"] / math.log(2), rel=1e-6)


def test_seq2seq_task_loss_metrics_and_exact_match_match_numpy():
    source = np.array([[4, 5, 1], [6, 1, 0], [7, 7, 1], [4, 1, 0]], np.int32)
    target = np.array([[5, 6, 7, 1, 0, 0],      # what greedy decoding writes: exact match
                       [5, 6, 4, 1, 0, 0],
                       [5, 6, 7, 1, 0, 0],      # an evaluation-padding example (mask 0)
                       [3, 1, 0, 0, 0, 0]], np.int32)
    mask = np.array([1, 1, 0, 1], np.float32)
    table, model = jnp.asarray(_table()), Bigram()
    batch = {"source": jnp.asarray(source), "target": jnp.asarray(target), "mask": jnp.asarray(mask)}
    previous = np.concatenate([np.full((4, 1), BOS), target[:, :-1]], 1)
    logits, weights = table[previous], (target != PAD).astype(np.float64)

    task = seq2seq_task.Seq2Seq(label_smoothing=0.1)
    loss, (_, metrics) = task.loss(model, {"table": table}, {}, batch, {"dropout": KEY})
    smoothed = _numpy_metrics(logits, target, weights, label_smoothing=0.1)
    np.testing.assert_allclose(float(loss), smoothed["loss"][0] / smoothed["loss"][1], rtol=1e-5)
    _assert_metrics(metrics, smoothed)

    task = seq2seq_task.Seq2Seq(eval_decode_length=8, label_smoothing=0.1)
    evaluated = task.evaluate(model, {"table": table}, {}, batch)
    want = _numpy_metrics(logits, target, weights * mask[:, None])   # evaluation: no smoothing
    _assert_metrics(evaluated, want)
    # Greedy decoding writes 5 6 7 EOS for every source: rows 0 and 2 match, row 2 does not count.
    np.testing.assert_allclose([float(x) for x in evaluated["exact_match"]], [1.0, 3.0])


def test_seq2seq_task_feeds_a_real_model_the_shifted_target():
    model, variables = _small_seq2seq()
    target = jnp.array([[5, 9, 1, 0], [12, 1, 0, 0], [3, 4, 5, 1]], jnp.int32)
    batch = {"source": SOURCE, "target": target, "mask": jnp.ones(3)}
    task = seq2seq_task.Seq2Seq()
    loss, _ = task.loss(model, variables["params"], {}, batch, {"dropout": KEY})
    logits = model.apply(variables, SOURCE, seq2seq_task.shift_right(target, BOS))
    want = _numpy_metrics(logits, np.asarray(target), np.asarray(target != PAD, np.float64))["loss"]
    np.testing.assert_allclose(float(loss), want[0] / want[1], rtol=1e-5)


def test_seq2seq_task_scales_uint8_images_to_the_unit_interval():
    task = seq2seq_task.Seq2Seq(source_key="image")
    image = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4, 1) * 8
    source, previous = task.inputs({"image": jnp.asarray(image), "target": jnp.ones((2, 3), jnp.int32)})
    assert source.dtype == jnp.float32
    np.testing.assert_allclose(source, image / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(previous, [[BOS, 1, 1], [BOS, 1, 1]])

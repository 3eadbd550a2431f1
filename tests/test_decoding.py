"""Decoding (greedy, sampling, beam search) against NumPy references: argmax loops, exhaustive
enumeration of every hypothesis, closed-form length penalties and sampling frequencies."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo.inference.decoding import PAD_ID, beam_search, gnmt_length_penalty, greedy_decode, sample_decode

BOS, EOS = 1, 2
NEG = -np.inf


def log_softmax(x):
    x = np.asarray(x, np.float64)
    m = np.max(x)
    return x - m - np.log(np.sum(np.exp(x - m)))


def enumerate_hypotheses(logp_fn, vocab, max_length, alpha):
    """Every complete hypothesis (ends at EOS or after max_length tokens) with its GNMT score, best first.
    logp_fn(prefix) -> log-probabilities (V,) of the next token after the generated prefix."""
    out = []

    def extend(prefix, logp):
        next_logp = logp_fn(prefix)
        for token in range(vocab):
            seq, total = prefix + (token,), logp + next_logp[token]
            if not np.isfinite(total):
                continue
            if token == EOS or len(seq) == max_length:
                out.append((seq, total / ((5 + len(seq)) / 6) ** alpha))
            else:
                extend(seq, total)

    extend((), 0.0)
    return sorted(out, key=lambda h: -h[1])


def padded(seq, max_length):
    return list(seq) + [PAD_ID] * (max_length - len(seq))


# A first-order Markov chain per batch row: logits = table[row, t, previous token]. The row index is the
# state, so it must survive beam search's tiling and gathering.
def markov_step(table):
    table = jnp.asarray(table)

    def step(tokens, rows, t):
        return table[rows, t, tokens], rows
    return step


def markov_logp_fn(table, row):
    return lambda prefix: log_softmax(table[row, len(prefix), prefix[-1] if prefix else BOS])


def random_table(seed, batch, length, vocab, scale=2.0):
    return np.random.default_rng(seed).normal(size=(batch, length, vocab, vocab)).astype(np.float32) * scale


def numpy_greedy(table, max_length):
    batch = table.shape[0]
    out = np.zeros((batch, max_length), np.int32)
    for b in range(batch):
        prev = BOS
        for t in range(max_length):
            prev = out[b, t] = int(np.argmax(table[b, t, prev]))
            if prev == EOS:
                break
    return out


# ------------------------------------------------------------------------------------------ greedy

def test_greedy_equals_numpy_argmax_loop():
    table = random_table(0, batch=16, length=7, vocab=6)
    tokens = greedy_decode(markov_step(table), jnp.arange(16), batch_size=16, bos_id=BOS, eos_id=EOS,
                           max_length=7)
    assert tokens.dtype == jnp.int32 and tokens.shape == (16, 7)
    expected = numpy_greedy(table, 7)
    np.testing.assert_array_equal(tokens, expected)
    # the random rows cover both cases: some end with EOS early, some run to max_length
    assert (expected == EOS).any(axis=1).any() and not (expected == EOS).any(axis=1).all()


def test_eos_then_pad_and_early_stop():
    # Row r emits token 3 until step ends[r], then EOS; row 2 never emits EOS.
    ends = jnp.array([1, 3, 99])
    calls = []

    def step(tokens, rows, t):
        jax.debug.callback(lambda: calls.append(1))
        logits = jnp.where(t == ends[rows][:, None], jax.nn.one_hot(EOS, 5), jax.nn.one_hot(3, 5)) * 10.0
        logits = logits.at[:, EOS].add(jnp.where(ends[rows] == 99, -1e9, 0.0))   # row 2: EOS impossible
        return logits, rows

    tokens = greedy_decode(step, jnp.arange(3), batch_size=3, bos_id=BOS, eos_id=EOS, max_length=6)
    np.testing.assert_array_equal(tokens, [[3, EOS, 0, 0, 0, 0], [3, 3, 3, EOS, 0, 0], [3] * 6])
    assert len(calls) == 6   # row 2 never ends: all max_length steps

    calls.clear()
    tokens = greedy_decode(step, jnp.arange(2), batch_size=2, bos_id=BOS, eos_id=EOS, max_length=6)
    np.testing.assert_array_equal(tokens, [[3, EOS, 0, 0, 0, 0], [3, 3, 3, EOS, 0, 0]])
    assert len(calls) == 4   # stopped once both rows had emitted EOS at t = 3


# ------------------------------------------------------------------------------------- beam search

@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
def test_beam_search_exhaustive_finds_every_hypothesis(alpha):
    # K = V ** L is enough room for every hypothesis, so beam search must return all of them, sorted,
    # with exactly the NumPy scores; the best is the exact argmax of the length-normalised score.
    batch, vocab, length = 2, 5, 3
    table = random_table(1, batch, length, vocab)
    K = vocab ** length
    tokens, scores = beam_search(markov_step(table), jnp.arange(batch), batch_size=batch, beam_size=K,
                                 bos_id=BOS, eos_id=EOS, max_length=length, length_penalty=alpha)
    assert tokens.shape == (batch, K, length) and tokens.dtype == jnp.int32 and scores.dtype == jnp.float32
    for b in range(batch):
        hyps = enumerate_hypotheses(markov_logp_fn(table, b), vocab, length, alpha)
        n = len(hyps)
        assert n == 1 + 4 + 16 + 64   # EOS at step 1, 2, 3, or 3 tokens without EOS
        np.testing.assert_allclose(scores[b, :n], [s for _, s in hyps], rtol=1e-5, atol=1e-6)
        assert np.all(scores[b, n:] == -np.inf)
        np.testing.assert_array_equal(tokens[b, 0], padded(hyps[0][0], length))
        found = {tuple(int(x) for x in seq) for seq in np.asarray(tokens[b, :n])}
        assert found == {tuple(padded(seq, length)) for seq, _ in hyps}
        np.testing.assert_array_equal(tokens[b, n:], PAD_ID)


def test_beam_size_one_is_greedy():
    table = random_table(2, batch=32, length=6, vocab=6)
    greedy = greedy_decode(markov_step(table), jnp.arange(32), batch_size=32, bos_id=BOS, eos_id=EOS,
                           max_length=6)
    beams, scores = beam_search(markov_step(table), jnp.arange(32), batch_size=32, beam_size=1, bos_id=BOS,
                                eos_id=EOS, max_length=6, length_penalty=0.0)
    np.testing.assert_array_equal(beams[:, 0], greedy)
    for b in range(32):   # the score is the greedy sequence's log-probability
        seq = [int(x) for x in greedy[b]]
        seq = seq[:seq.index(EOS) + 1] if EOS in seq else seq   # (token 0 is a valid token here)
        logp = sum(markov_logp_fn(table, b)(tuple(seq[:i]))[seq[i]] for i in range(len(seq)))
        np.testing.assert_allclose(scores[b, 0], logp, rtol=1e-5)


def probabilities_step(probs):
    """probs[t][previous token] -> next-token probabilities (zeros allowed: log 0 = -inf logits). Rows
    left all zero (states no live hypothesis reaches) become uniform, so every logit row is valid."""
    probs = np.asarray(probs, np.float64).copy()
    probs[probs.sum(-1) == 0] = 1.0 / probs.shape[-1]
    with np.errstate(divide="ignore"):
        table = jnp.asarray(np.log(probs), jnp.float32)
    return lambda tokens, state, t: (table[t, tokens], state)


def test_beam_beats_greedy():
    # Tokens: 0 pad, 1 BOS, 2 EOS, 3 "a", 4 "b". Greedy takes "a" (0.5), whose continuations are all
    # unlikely: [a, a, EOS] has P = 0.5 * 0.35 = 0.175. "b" (0.4) is followed by EOS with probability 0.9:
    # P(b, EOS) = 0.36 is the best hypothesis, and beam_size=2 finds it.
    V = 5
    probs = np.zeros((3, V, V))
    probs[0, BOS] = [0, 0, 0.1, 0.5, 0.4]
    probs[1, 3] = [0, 0, 0.3, 0.35, 0.35]      # after "a"
    probs[1, 4] = [0, 0, 0.9, 0.05, 0.05]      # after "b"
    probs[2, :] = [0, 0, 1.0, 0, 0]            # EOS at the last step
    step = probabilities_step(probs)
    greedy = greedy_decode(step, None, batch_size=1, bos_id=BOS, eos_id=EOS, max_length=3)
    np.testing.assert_array_equal(greedy, [[3, 3, EOS]])
    beams, scores = beam_search(step, None, batch_size=1, beam_size=2, bos_id=BOS, eos_id=EOS, max_length=3,
                                length_penalty=0.0)
    np.testing.assert_array_equal(beams[0, 0], [4, EOS, PAD_ID])
    np.testing.assert_allclose(scores[0, 0], np.log(0.4 * 0.9), rtol=1e-6)
    assert scores[0, 0] > np.log(0.5 * 0.35)


def test_beam_keeps_a_better_early_eos_that_greedy_passes_over():
    # The classic case for beam_size=2 and the definition of beam_size=1: [EOS] (0.4) beats greedy's
    # [a, EOS] (0.6 * 0.5 = 0.3); beam_size=1 stays greedy.
    V = 4
    probs = np.full((2, V, V), 1.0 / V)
    probs[0, BOS] = [0, 0, 0.4, 0.6]
    probs[1, 3] = [0, 0.25, 0.5, 0.25]
    step = probabilities_step(probs)
    greedy = greedy_decode(step, None, batch_size=1, bos_id=BOS, eos_id=EOS, max_length=2)
    np.testing.assert_array_equal(greedy, [[3, EOS]])
    one, one_score = beam_search(step, None, batch_size=1, beam_size=1, bos_id=BOS, eos_id=EOS, max_length=2,
                                 length_penalty=0.0)
    np.testing.assert_array_equal(one[0, 0], [3, EOS])
    np.testing.assert_allclose(one_score[0, 0], np.log(0.3), rtol=1e-6)
    two, two_scores = beam_search(step, None, batch_size=1, beam_size=2, bos_id=BOS, eos_id=EOS, max_length=2,
                                  length_penalty=0.0)
    np.testing.assert_array_equal(two[0], [[EOS, PAD_ID], [3, EOS]])
    np.testing.assert_allclose(two_scores[0], np.log([0.4, 0.3]), rtol=1e-6)


def test_length_penalty_switches_short_for_long_at_the_closed_form_alpha():
    # Only two hypotheses have probability > 0: short = [EOS] (p = 0.7, length 1) and
    # long = [a, a, a, EOS] (p = 0.3, length 4). Their scores are log(0.7) / 1 and log(0.3) / 1.5 ** alpha
    # (the penalty at length 1 is 1), so long wins iff alpha > log(log 0.3 / log 0.7) / log 1.5.
    V, a = 4, 3
    probs = np.zeros((4, V, V))
    probs[:, :, 0] = 1.0                        # rows never reached: any valid distribution
    probs[0, BOS] = [0, 0, 0.7, 0.3]
    probs[1, a] = probs[2, a] = [0, 0, 0, 1.0]
    probs[3, a] = [0, 0, 1.0, 0]
    step = probabilities_step(probs)
    crossover = np.log(np.log(0.3) / np.log(0.7)) / np.log(1.5)
    assert 2.5 < crossover < 3.5
    short, long = [EOS, 0, 0, 0], [a, a, a, EOS]
    for alpha in [0.0, 0.6, crossover - 0.05, crossover + 0.05, 4.0]:
        beams, scores = beam_search(step, None, batch_size=1, beam_size=2, bos_id=BOS, eos_id=EOS,
                                    max_length=4, length_penalty=alpha)
        expected = {tuple(short): np.log(0.7), tuple(long): np.log(0.3) / 1.5 ** alpha}
        order = sorted(expected, key=lambda s: -expected[s])
        assert (order[0] == tuple(long)) == (alpha > crossover)
        np.testing.assert_array_equal(beams[0], order)
        np.testing.assert_allclose(scores[0], [expected[s] for s in order], rtol=1e-5)


def test_gnmt_length_penalty_formula():
    np.testing.assert_allclose(gnmt_length_penalty(jnp.arange(1, 6), 0.6), ((5 + np.arange(1, 6)) / 6) ** 0.6,
                               rtol=1e-6)
    np.testing.assert_allclose(gnmt_length_penalty(7, 0.0), 1.0)


def test_never_eos_returns_best_truncated_beams():
    # EOS has probability 0: every hypothesis is truncated at max_length, scored log p / penalty(L).
    # K = 9 = 3 ** 2 keeps every prefix, so the 9 best of the 27 truncated hypotheses are exact.
    batch, vocab, length = 2, 4, 3
    table = random_table(3, batch, length, vocab)
    table[..., EOS] = -1e30
    tokens, scores = beam_search(markov_step(table), jnp.arange(batch), batch_size=batch, beam_size=9,
                                 bos_id=BOS, eos_id=EOS, max_length=length, length_penalty=0.6)
    assert not (np.asarray(tokens) == EOS).any() and np.isfinite(scores).all()
    for b in range(batch):
        hyps = enumerate_hypotheses(markov_logp_fn(table, b), vocab, length, 0.6)
        hyps = [h for h in hyps if EOS not in h[0]]
        np.testing.assert_allclose(scores[b], [s for _, s in hyps[:9]], rtol=1e-5)
        np.testing.assert_array_equal(tokens[b], [seq for seq, _ in hyps[:9]])


def test_beam_search_stops_when_no_beam_can_improve():
    # EOS is certain at t = 1 (other tokens -inf): after two steps no alive beam is left.
    calls = []
    V = 5
    probs = np.full((10, V, V), 1.0 / V)
    probs[1] = [0, 0, 1.0, 0, 0]
    with np.errstate(divide="ignore"):
        table = jnp.asarray(np.log(probs), jnp.float32)

    def step(tokens, state, t):
        jax.debug.callback(lambda: calls.append(1))
        return table[t, tokens], state

    tokens, scores = beam_search(step, None, batch_size=1, beam_size=3, bos_id=BOS, eos_id=EOS, max_length=10)
    assert len(calls) == 2
    assert np.isfinite(scores[0]).all() and (np.asarray(tokens[0, :, 1]) == EOS).all()


def test_stateful_step_gathers_state_with_the_beams():
    # The next-token logits depend on the running sum of all tokens so far (an int state), on a decaying
    # float memory of the tokens (B, 3) and on a shared 0-d scale: beams that swapped histories without
    # their state would get the wrong logits. Exhaustive enumeration with the same recurrence in NumPy.
    batch, vocab, length, modulus = 2, 4, 4, 7
    rng = np.random.default_rng(4)
    by_sum = rng.normal(size=(batch, modulus, vocab)).astype(np.float32) * 2
    by_memory = rng.normal(size=(vocab, vocab)).astype(np.float32)
    scale = 1.5

    def step(tokens, state, t):
        total = state["sum"] + tokens
        memory = 0.5 * state["memory"] + jax.nn.one_hot(tokens, vocab)[:, :3]
        logits = state["scale"] * (jnp.asarray(by_sum)[state["row"], total % modulus]
                                   + jnp.pad(memory, ((0, 0), (0, 1))) @ jnp.asarray(by_memory))
        return logits, dict(row=state["row"], sum=total, memory=memory, scale=state["scale"])

    def logp_fn(b):
        def fn(prefix):
            total, memory = 0, np.zeros(vocab, np.float64)
            for token in (BOS,) + prefix:
                total += token
                memory = 0.5 * memory + np.eye(vocab)[token] * (token < 3)
            return log_softmax(scale * (by_sum[b, total % modulus] + memory @ by_memory))
        return fn

    state = dict(row=jnp.arange(batch), sum=jnp.zeros(batch, jnp.int32), memory=jnp.zeros((batch, 3)),
                 scale=jnp.float32(scale))
    K = vocab ** length
    tokens, scores = beam_search(step, state, batch_size=batch, beam_size=K, bos_id=BOS, eos_id=EOS,
                                 max_length=length, length_penalty=0.6)
    for b in range(batch):
        hyps = enumerate_hypotheses(logp_fn(b), vocab, length, 0.6)
        np.testing.assert_allclose(scores[b, :len(hyps)], [s for _, s in hyps], rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(tokens[b, :5], [padded(seq, length) for seq, _ in hyps[:5]])


# ---------------------------------------------------------------------------------------- sampling

def test_sampling_at_zero_temperature_is_greedy():
    table = random_table(5, batch=16, length=6, vocab=6, scale=3.0)
    greedy = greedy_decode(markov_step(table), jnp.arange(16), batch_size=16, bos_id=BOS, eos_id=EOS,
                           max_length=6)
    for temperature in [0.0, 1e-6]:
        sampled = sample_decode(markov_step(table), jnp.arange(16), jax.random.key(0), batch_size=16,
                                bos_id=BOS, eos_id=EOS, max_length=6, temperature=temperature)
        np.testing.assert_array_equal(sampled, greedy)


def test_sampling_is_deterministic_given_the_key():
    table = random_table(6, batch=64, length=8, vocab=6, scale=0.5)
    kw = dict(batch_size=64, bos_id=BOS, eos_id=EOS, max_length=8, temperature=1.0)
    first = sample_decode(markov_step(table), jnp.arange(64), jax.random.key(1), **kw)
    again = sample_decode(markov_step(table), jnp.arange(64), jax.random.key(1), **kw)
    other = sample_decode(markov_step(table), jnp.arange(64), jax.random.key(2), **kw)
    np.testing.assert_array_equal(first, again)
    assert (np.asarray(first) != np.asarray(other)).any()
    for row in np.asarray(first):   # pads only after an EOS
        ended = np.flatnonzero(row == EOS)
        if ended.size:
            assert (row[ended[0] + 1:] == PAD_ID).all()


@pytest.mark.parametrize("temperature, top_k", [(1.0, 0), (0.5, 0), (2.0, 0), (1.0, 3)])
def test_sampling_frequencies_match_softmax(temperature, top_k):
    logits = np.array([1.0, -0.5, 0.3, 2.0, 0.0, -1.0], np.float32)
    n = 40_000
    step = lambda tokens, state, t: (jnp.broadcast_to(jnp.asarray(logits), (tokens.shape[0], 6)), state)
    tokens = sample_decode(step, None, jax.random.key(3), batch_size=n, bos_id=BOS, eos_id=EOS, max_length=1,
                           temperature=temperature, top_k=top_k)
    freq = np.bincount(np.asarray(tokens[:, 0]), minlength=6) / n
    p = np.exp(logits / temperature)
    if top_k:
        p[np.argsort(-logits)[top_k:]] = 0.0
    p /= p.sum()
    np.testing.assert_array_less(np.abs(freq - p), 5 * np.sqrt(p * (1 - p) / n) + 1e-4)


# ------------------------------------------------------------------------------------------ errors

def _table_step():
    return markov_step(random_table(7, batch=2, length=4, vocab=5))


@pytest.mark.parametrize("kwargs, message", [
    (dict(beam_size=0), "beam_size"),
    (dict(max_length=0), "max_length"),
    (dict(batch_size=0), "batch_size"),
    (dict(bos_id=5), "bos_id=5 is outside the vocabulary"),
    (dict(eos_id=-1), "eos_id=-1 is outside the vocabulary"),
])
def test_beam_search_errors(kwargs, message):
    args = dict(batch_size=2, beam_size=2, bos_id=BOS, eos_id=EOS, max_length=4) | kwargs
    with pytest.raises(ValueError, match=message):
        beam_search(_table_step(), jnp.arange(args["batch_size"]), **args)


@pytest.mark.parametrize("decode", ["greedy", "sample", "beam"])
def test_wrong_logits_and_state_shapes_are_named(decode):
    def run(step, state, batch_size=2):
        kw = dict(batch_size=batch_size, bos_id=BOS, eos_id=EOS, max_length=3)
        if decode == "greedy":
            return greedy_decode(step, state, **kw)
        if decode == "sample":
            return sample_decode(step, state, jax.random.key(0), **kw)
        return beam_search(step, state, beam_size=2, **kw)

    with pytest.raises(ValueError, match=r"logits of shape \(N, V\)"):
        run(lambda tokens, state, t: (jnp.zeros((tokens.shape[0], 5, 1)), state), None)
    with pytest.raises(ValueError, match=r"logits of shape \(N, V\)"):
        run(lambda tokens, state, t: (jnp.zeros((1, 5)), state), None)
    with pytest.raises(ValueError, match="leading axis of batch_size=2"):
        run(lambda tokens, state, t: (jnp.zeros((tokens.shape[0], 5)), state), jnp.zeros((3, 4)))
    with pytest.raises(ValueError, match="keep its shapes and dtypes"):
        run(lambda tokens, state, t: (jnp.zeros((tokens.shape[0], 5)), state[:, :1]), jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="eos_id=7 is outside"):
        greedy_decode(lambda tokens, state, t: (jnp.zeros((2, 5)), state), None, batch_size=2, bos_id=BOS,
                      eos_id=7, max_length=3)


def test_sampling_argument_errors():
    kw = dict(batch_size=2, bos_id=BOS, eos_id=EOS, max_length=3)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample_decode(_table_step(), jnp.arange(2), jax.random.key(0), temperature=-1.0, **kw)
    with pytest.raises(ValueError, match="top_k=6 exceeds the vocabulary size 5"):
        sample_decode(_table_step(), jnp.arange(2), jax.random.key(0), top_k=6, **kw)
    with pytest.raises(ValueError, match="top_k must be"):
        sample_decode(_table_step(), jnp.arange(2), jax.random.key(0), top_k=-1, **kw)


# --------------------------------------------------------------------------------------------- jit

def test_decoders_under_jit_with_traced_parameters():
    # The step closes over traced arrays (as a model's params would be); the sizes are static.
    table = random_table(8, batch=3, length=5, vocab=6)
    kw = dict(batch_size=3, bos_id=BOS, eos_id=EOS, max_length=5)

    @functools.partial(jax.jit, static_argnames=("beam_size",))
    def decode(table, rows, rng, temperature, beam_size):
        step = markov_step(table)
        return (greedy_decode(step, rows, **kw),
                sample_decode(step, rows, rng, temperature=temperature, top_k=4, **kw),
                beam_search(step, rows, beam_size=beam_size, **kw))

    rows, rng = jnp.arange(3), jax.random.key(4)
    greedy, sampled, (beams, scores) = decode(jnp.asarray(table), rows, rng, 0.7, beam_size=4)
    step = markov_step(table)
    np.testing.assert_array_equal(greedy, greedy_decode(step, rows, **kw))
    np.testing.assert_array_equal(sampled, sample_decode(step, rows, rng, temperature=0.7, top_k=4, **kw))
    eager_beams, eager_scores = beam_search(step, rows, beam_size=4, **kw)
    np.testing.assert_array_equal(beams, eager_beams)
    np.testing.assert_allclose(scores, eager_scores, rtol=1e-6)
    np.testing.assert_array_equal(greedy, numpy_greedy(table, 5))
    # a traced temperature of 0 is still greedy
    _, sampled0, _ = decode(jnp.asarray(table), rows, rng, 0.0, beam_size=4)
    np.testing.assert_array_equal(sampled0, greedy)

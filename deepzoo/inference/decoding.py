"""Autoregressive decoding: greedy, sampling and beam search over any one-step model.

Shared by every model that writes a sequence one token at a time (the RNN seq2seq, captioning and
character models, the Transformer, GPT). A model exposes one step,

    step_fn(tokens, state, t) -> (logits, new_state)
        tokens    int32 (N,): each row's previous token (bos_id at t = 0);
        state     any pytree of per-row arrays with leading axis N: the RNN carry, the encoder outputs
                  that attention reads, a KV cache. 0-d leaves (e.g. a cache index) are shared by all
                  rows and are neither tiled nor gathered by beam search;
        t         int32 scalar: the position being generated, 0 for the first token after BOS;
        logits    (N, V) unnormalised next-token scores; new_state has the structure, shapes and dtypes
                  of state.

and the decoders run it in a `jax.lax.while_loop` of at most `max_length` steps that stops as soon as
every row is finished, so they jit (the sizes and ids are static Python ints) and never loop forever:

    step = lambda tokens, state, t: model.apply(params, tokens, state, method=model.decode_step)
    tokens = greedy_decode(step, state, batch_size=B, bos_id=2, eos_id=1, max_length=20)        # (B, 20)
    tokens = sample_decode(step, state, rng, batch_size=B, bos_id=2, eos_id=1, max_length=20,
                           temperature=0.8, top_k=40)
    beams, scores = beam_search(step, state, batch_size=B, beam_size=4, bos_id=2, eos_id=1, max_length=20)
    best = beams[:, 0]                                                                            # (B, 20)

Outputs hold the generated tokens without BOS; EOS is kept and every position after it is PAD_ID (0).
Two entry points drive a model's own methods: `generate` decodes a source with an encoder-decoder
(start_decoding, decode_step) and `continue_prompt` samples what follows a prompt with a decoder-only
language model (start_decoding, prefill, decode_step: GPT).
"""
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

PAD_ID = 0   # written after EOS (and in the empty beam slots)

StepFn = Callable[[jax.Array, Any, jax.Array], tuple[jax.Array, Any]]


def gnmt_length_penalty(length, alpha):
    """((5 + length) / 6) ** alpha (Wu et al. 2016, "Google's NMT system", eq. 14); 1 when alpha = 0.

    Beam search divides a finished hypothesis' log-probability by it, so that longer hypotheses,
    whose log-probabilities are sums of more negative terms, are not always beaten by short ones.
    """
    return ((5.0 + jnp.asarray(length, jnp.float32)) / 6.0) ** alpha


# ----------------------------------------------------------------------------------------- checks

def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive Python int (it fixes an array shape, so under jit "
                         f"pass it as a static argument); got {value!r}.")
    return int(value)


def _token_id(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a Python int token id; got {value!r}.")
    return int(value)


def _first_tokens(bos_id, rows: int):
    """bos_id as (rows,) int32: one int for every row, or one id per row (a GPT prompt's last token)."""
    if isinstance(bos_id, (int, np.integer)) and not isinstance(bos_id, bool):
        return jnp.full((rows,), bos_id, jnp.int32)
    if jnp.shape(bos_id) != (rows,) or not jnp.issubdtype(jnp.result_type(bos_id), jnp.integer):
        raise ValueError(f"bos_id must be a Python int or an int array of shape (batch_size,) = ({rows},); "
                         f"got {bos_id!r}.")
    return jnp.asarray(bos_id, jnp.int32)


def _prepare_state(state, rows: int):
    """Checks every leaf has `rows` rows (or is 0-d) and makes the leaves arrays with strong dtypes,
    so that the while_loop carry keeps one type (a Python float would be weakly typed)."""
    def prepare(path, leaf):
        x = jnp.asarray(leaf)
        if x.ndim and x.shape[0] != rows:
            raise ValueError(f"state leaf {jax.tree_util.keystr(path) or '(root)'} has shape {x.shape}, but "
                             f"every state leaf needs a leading axis of batch_size={rows} (one row per "
                             f"sequence) or no axis at all (shared by all rows).")
        return jnp.asarray(x, dtype=x.dtype)
    return jax.tree_util.tree_map_with_path(prepare, state)


def _step(step_fn: StepFn, tokens, state, t, *, bos_id: int, eos_id: int):
    """Calls step_fn and checks, at trace time, what it returns: (N, V) logits, ids inside [0, V), a
    new state shaped like the old. Returns float32 logits (softmax and sums of log-probs need them)."""
    rows = tokens.shape[0]
    out = step_fn(tokens, state, t)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ValueError(f"step_fn must return (logits, new_state); got {type(out).__name__}.")
    logits, new_state = out
    shape = tuple(jnp.shape(logits))
    if len(shape) != 2 or shape[0] != rows:
        raise ValueError(f"step_fn must return logits of shape (N, V) = ({rows}, vocab_size) for its "
                         f"{rows} input tokens; got shape {shape}.")
    vocab = shape[1]
    for name, token in (("bos_id", bos_id), ("eos_id", eos_id)):
        if isinstance(token, int) and not 0 <= token < vocab:
            raise ValueError(f"{name}={token} is outside the vocabulary [0, {vocab}) of step_fn's logits "
                             f"(shape {shape}); pass an id of the model's vocabulary.")
    old_leaves, old_tree = jax.tree.flatten(state)
    new_leaves, new_tree = jax.tree.flatten(new_state)
    if old_tree != new_tree:
        raise ValueError(f"step_fn must return a new state with the structure of the old one; got "
                         f"{new_tree}, expected {old_tree}.")
    for i, (old, new) in enumerate(zip(old_leaves, new_leaves)):
        if jnp.shape(new) != old.shape or jnp.result_type(new) != old.dtype:
            raise ValueError(f"step_fn changed state leaf {i} from {old.dtype}{list(old.shape)} to "
                             f"{jnp.result_type(new)}{list(jnp.shape(new))}; the state must keep its "
                             f"shapes and dtypes from step to step.")
    new_state = jax.tree.map(lambda old, new: jnp.asarray(new, old.dtype), state, new_state)
    return jnp.asarray(logits, jnp.float32), new_state


# ------------------------------------------------------------------------------ greedy and sampling

def _decode(step_fn: StepFn, state, choose, *, batch_size, bos_id, eos_id, max_length):
    """One token per row per step, chosen by choose(logits (B, V) float32, t) -> (B,) int32."""
    batch_size, max_length = _positive_int("batch_size", batch_size), _positive_int("max_length", max_length)
    first = _first_tokens(bos_id, batch_size)
    eos_id = None if eos_id is None else _token_id("eos_id", eos_id)
    state = _prepare_state(state, batch_size)

    def unfinished(carry):
        t, _, _, _, done = carry
        return (t < max_length) & ~jnp.all(done)

    def body(carry):
        t, last, state, tokens, done = carry
        logits, state = _step(step_fn, last, state, t, bos_id=bos_id, eos_id=eos_id)
        token = jnp.where(done, PAD_ID, choose(logits, t)).astype(jnp.int32)
        tokens = tokens.at[:, t].set(token)
        return t + 1, token, state, tokens, done if eos_id is None else done | (token == eos_id)

    init = (jnp.int32(0), first, state,
            jnp.full((batch_size, max_length), PAD_ID, jnp.int32), jnp.zeros((batch_size,), bool))
    return lax.while_loop(unfinished, body, init)[3]


def greedy_decode(step_fn: StepFn, state, *, batch_size: int, bos_id: int, eos_id: int, max_length: int):
    """The most likely next token at every step: int32 (batch_size, max_length).

    step_fn: the model's step (module docstring); state: its initial state for batch_size rows;
    bos_id: the token fed at t = 0 (an int, or an int array (batch_size,) of one per row); eos_id: ends
    a row, which then holds PAD_ID (None: rows never end); max_length: the most tokens generated per
    row (EOS included). Stops early once every row has emitted EOS.
    """
    return _decode(step_fn, state, lambda logits, t: jnp.argmax(logits, axis=-1), batch_size=batch_size,
                   bos_id=bos_id, eos_id=eos_id, max_length=max_length)


def sample_decode(step_fn: StepFn, state, rng, *, batch_size: int, bos_id: int, eos_id: int, max_length: int,
                  temperature: float = 1.0, top_k: int = 0):
    """Tokens drawn from softmax(logits / temperature): int32 (batch_size, max_length).

    rng: a PRNG key; step t draws with fold_in(rng, t), so a key gives one fixed output.
    temperature: > 1 flattens the distribution, < 1 sharpens it, 0 is greedy decoding (may be traced).
    top_k: sample among the top_k most likely tokens only (ties with the k-th are kept); 0 = all.
    The other arguments are greedy_decode's.
    """
    if isinstance(temperature, (int, float, np.number)) and not temperature >= 0:
        raise ValueError(f"temperature must be >= 0 (0 means greedy decoding); got {temperature!r}.")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
        raise ValueError(f"top_k must be a Python int >= 0 (0 keeps every token); got {top_k!r}.")

    def choose(logits, t):
        if top_k:
            if top_k > logits.shape[-1]:
                raise ValueError(f"top_k={top_k} exceeds the vocabulary size {logits.shape[-1]}; use "
                                 f"top_k <= {logits.shape[-1]} or 0 for all tokens.")
            kth = lax.top_k(logits, top_k)[0][:, -1:]
            logits = jnp.where(logits < kth, -jnp.inf, logits)
        # Shift the max to 0 before dividing: a tiny temperature then sends the rest to -inf, not NaN.
        shifted = logits - jnp.max(logits, axis=-1, keepdims=True)
        scaled = shifted / jnp.where(temperature > 0, temperature, 1.0)
        sampled = jax.random.categorical(jax.random.fold_in(rng, t), scaled, axis=-1)
        return jnp.where(temperature > 0, sampled, jnp.argmax(logits, axis=-1))

    return _decode(step_fn, state, choose, batch_size=batch_size, bos_id=bos_id, eos_id=eos_id,
                   max_length=max_length)


# ------------------------------------------------------------------------------------- beam search

def beam_search(step_fn: StepFn, state, *, batch_size: int, beam_size: int, bos_id: int, eos_id: int,
                max_length: int, length_penalty: float = 0.6):
    """Beam search (tensor2tensor / flax wmt style): the beam_size best hypotheses of every row.

    step_fn: the model's step (module docstring); it is called on batch_size * beam_size rows, row
        b * beam_size + k being beam k of batch row b.
    state: the initial state for batch_size rows; every leaf with an axis is repeated beam_size times
        (jnp.repeat on axis 0) and re-gathered after each step so each beam keeps its own history.
    batch_size: rows of the batch. beam_size: K, hypotheses kept per row.
    bos_id: the token fed at t = 0. eos_id: the token that finishes a hypothesis.
    max_length: the most tokens per hypothesis, EOS included. A hypothesis still without EOS after
        max_length tokens is finished there (truncated), so a row whose beams never emit EOS returns its
        best alive beams, ranked by the same score.
    length_penalty: alpha of the GNMT penalty ((5 + length) / 6) ** alpha that divides the log-probability
        of a finished hypothesis; length counts the generated tokens with EOS, without BOS. 0 = raw
        log-probability; larger values favour longer hypotheses (0.6 in Wu et al. 2016).

    Returns (tokens int32 (batch_size, K, max_length), scores float32 (batch_size, K)), best first;
    score = log P(hypothesis) / penalty(length). A row with fewer than K possible hypotheses fills the
    remaining slots with PAD_ID tokens and score -inf.

    Each step extends the K "alive" beams by every token, keeps the 2K best candidates, and
      - moves those that end (EOS, or the last step) and rank among the K best candidates of the step to
        the "finished" pool, which keeps the K best by score; ranking among the K best (as fairseq does)
        makes beam_size=1 with length_penalty=0 exactly greedy decoding;
      - keeps the K best candidates that did not end as the new alive beams (2K candidates always hold
        K of them: at most one EOS comes from each beam).
    At the first step only beam 0 is alive (the others have log-probability -inf), so beams start
    distinct. The loop stops early once no alive beam can beat the K-th finished hypothesis of its row:
    log-probabilities only fall, so an alive beam's best is its log-probability over the largest
    penalty still ahead.
    """
    batch_size, beam_size = _positive_int("batch_size", batch_size), _positive_int("beam_size", beam_size)
    max_length = _positive_int("max_length", max_length)
    bos_id, eos_id = _token_id("bos_id", bos_id), _token_id("eos_id", eos_id)
    B, K, L = batch_size, beam_size, max_length
    state = _prepare_state(state, B)
    state = jax.tree.map(lambda x: jnp.repeat(x, K, axis=0) if x.ndim else x, state)
    penalty = lambda length: gnmt_length_penalty(length, length_penalty)

    def gather_beams(tree, beam):
        """Row b * K + k of every leaf becomes row b * K + beam[b, k]."""
        rows = (jnp.arange(B)[:, None] * K + beam).reshape(-1)
        return jax.tree.map(lambda x: jnp.take(x, rows, axis=0) if x.ndim else x, tree)

    def unfinished(c):
        best_reachable = c["alive_logp"][:, 0] / jnp.maximum(penalty(c["t"] + 1), penalty(L))
        return (c["t"] < L) & jnp.any(best_reachable > c["finished_scores"][:, -1])

    def body(c):
        t = c["t"]
        logits, new_state = _step(step_fn, c["last"].reshape(B * K), c["state"], t, bos_id=bos_id,
                                  eos_id=eos_id)
        V = logits.shape[-1]
        candidates = c["alive_logp"][:, :, None] + jax.nn.log_softmax(logits).reshape(B, K, V)
        n = min(2 * K, K * V)
        logp, index = lax.top_k(candidates.reshape(B, K * V), n)        # (B, n), best first
        parent, token = index // V, index % V
        seqs = jnp.take_along_axis(c["alive_seqs"], parent[:, :, None], axis=1).at[:, :, t].set(token)
        ends = (token == eos_id) | (t == L - 1)

        # Finished pool: old hypotheses first, so a tie keeps the one found earlier.
        new_scores = jnp.where(ends & (jnp.arange(n) < K), logp / penalty(t + 1), -jnp.inf)
        finished_scores, pick = lax.top_k(jnp.concatenate([c["finished_scores"], new_scores], 1), K)
        finished_seqs = jnp.take_along_axis(jnp.concatenate([c["finished_seqs"], seqs], 1), pick[:, :, None], 1)

        alive_logp, keep = lax.top_k(jnp.where(ends, -jnp.inf, logp), K)
        return dict(t=t + 1,
                    last=jnp.take_along_axis(token, keep, 1),
                    state=gather_beams(new_state, jnp.take_along_axis(parent, keep, 1)),
                    alive_seqs=jnp.take_along_axis(seqs, keep[:, :, None], 1),
                    alive_logp=alive_logp,
                    finished_seqs=finished_seqs,
                    finished_scores=finished_scores)

    init = dict(t=jnp.int32(0),
                last=jnp.full((B, K), bos_id, jnp.int32),
                state=state,
                alive_seqs=jnp.full((B, K, L), PAD_ID, jnp.int32),
                alive_logp=jnp.full((B, K), -jnp.inf, jnp.float32).at[:, 0].set(0.0),
                finished_seqs=jnp.full((B, K, L), PAD_ID, jnp.int32),
                finished_scores=jnp.full((B, K), -jnp.inf, jnp.float32))
    out = lax.while_loop(unfinished, body, init)
    scores = out["finished_scores"]
    tokens = jnp.where(jnp.isfinite(scores)[:, :, None], out["finished_seqs"], PAD_ID)
    return tokens, scores


def generate(model, variables, source, *, max_length: int, bos_id: int, eos_id: int, beam_size: int = 1,
             length_penalty: float = 0.6):
    """Decodes `source` with an encoder-decoder module that has the methods start_decoding(source,
    max_length) -> state and decode_step(tokens, state) -> (logits, state) (Seq2Seq, ShowAttendTell,
    Transformer; max_length sizes a Transformer's key/value caches): greedy when beam_size is 1, else
    the best beam. Returns int32 (B, max_length)."""
    state = model.apply(variables, source, max_length, method="start_decoding")
    step = lambda tokens, state, t: model.apply(variables, tokens, state, method="decode_step")
    if beam_size == 1:
        return greedy_decode(step, state, batch_size=source.shape[0], bos_id=bos_id, eos_id=eos_id,
                             max_length=max_length)
    beams, _ = beam_search(step, state, batch_size=source.shape[0], beam_size=beam_size, bos_id=bos_id,
                           eos_id=eos_id, max_length=max_length, length_penalty=length_penalty)
    return beams[:, 0]


def continue_prompt(model, variables, prompt, rng, *, max_new_tokens: int, temperature: float = 1.0,
                    top_k: int = 0, eos_id: int | None = None):
    """Samples max_new_tokens after each prompt row (B, P) with a decoder-only model that has the methods
    start_decoding(batch_size, max_length) -> state, prefill(tokens, state) -> (logits, state) and
    decode_step(tokens, state) -> (logits, state) (GPT): int32 (B, max_new_tokens).

    The prompt but its last token fills the caches in one pass; the last one is the first token fed to
    the sampler. temperature 0 is greedy; top_k 0 keeps every token. Given eos_id, a row stops at it.
    """
    batch, length = prompt.shape
    state = model.apply(variables, batch, length + max_new_tokens, method="start_decoding")
    if length > 1:
        _, state = model.apply(variables, prompt[:, :-1], state, method="prefill")
    step = lambda tokens, state, t: model.apply(variables, tokens, state, method="decode_step")
    return sample_decode(step, state, rng, batch_size=batch, bos_id=prompt[:, -1], eos_id=eos_id,
                         max_length=max_new_tokens, temperature=temperature, top_k=top_k)

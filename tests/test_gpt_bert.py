"""GPT-2 and BERT: the published parameter counts, cached decoding equal to the full forward pass,
sampling, bidirectional attention, and BERT's masked-LM corruption against its stated rates."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from test_vit import num_params

from deepzoo import models
from deepzoo.inference import decoding
from deepzoo.tasks import masked_lm

TOKENS = np.array([[4, 5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16, 17]], np.int32)


def abstract_params(name):
    model = models.get(name)
    return jax.eval_shape(model.init, jax.random.key(0), *models.example_inputs(name, 1))["params"]


@pytest.mark.parametrize("name, expected", [("gpt2", 124_439_808), ("gpt2_medium", 354_823_168),
                                            ("gpt2_large", 774_030_080), ("gpt2_xl", 1_557_611_200)])
def test_gpt2_parameter_counts_are_exact(name, expected):
    assert num_params(abstract_params(name)) == expected


@pytest.mark.parametrize("name, expected", [("bert_base", 109_482_240), ("bert_large", 335_141_888)])
def test_bert_parameter_counts_with_the_pooler_are_exact(name, expected):
    params = abstract_params(name)
    assert num_params(params["bert"]) == expected
    # The masked-LM head: a d x d transform, its LayerNorm and one bias per word (the output is tied).
    d = 768 if name == "bert_base" else 1024
    assert num_params(params) - expected == d * d + d + 2 * d + 30522


@functools.cache
def tiny_gpt():
    model = models.get("gpt_small", vocab_size=24, max_length=16, num_layers=2, d_model=16, num_heads=2,
                       dropout_rate=0.0)
    return model, jax.jit(model.init)(jax.random.key(0), TOKENS)


def test_gpt_prefill_and_cached_steps_equal_the_full_forward_pass():
    model, variables = tiny_gpt()
    full = model.apply(variables, TOKENS)
    state = model.apply(variables, 2, 10, method="start_decoding")
    prompt_logits, state = model.apply(variables, TOKENS[:, :4], state, method="prefill")
    logits = [prompt_logits]
    for t in range(4, TOKENS.shape[1]):
        out, state = model.apply(variables, TOKENS[:, t], state, method="decode_step")
        logits.append(out[:, None])
    np.testing.assert_allclose(np.concatenate(logits, 1), full, rtol=1e-5, atol=1e-5)


def test_gpt_is_causal():
    model, variables = tiny_gpt()
    changed = TOKENS.copy()
    changed[:, 4:] = 3
    np.testing.assert_allclose(model.apply(variables, changed)[:, :4], model.apply(variables, TOKENS)[:, :4],
                               atol=1e-6)


@pytest.mark.slow   # ~16 s
def test_greedy_generation_equals_argmax_of_the_full_forward_pass_and_top1_sampling_is_greedy():
    model, variables = tiny_gpt()
    prompt = TOKENS[:, :3]
    tokens = np.asarray(prompt)
    for _ in range(5):  # the slow way: the whole prefix again for every new token
        next_token = np.argmax(model.apply(variables, tokens)[:, -1], -1)
        tokens = np.concatenate([tokens, next_token[:, None]], 1)
    greedy = decoding.continue_prompt(model, variables, prompt, jax.random.key(0), max_new_tokens=5, temperature=0.0)
    np.testing.assert_array_equal(greedy, tokens[:, 3:])
    top1 = decoding.continue_prompt(model, variables, prompt, jax.random.key(1), max_new_tokens=5, temperature=2.0,
                                    top_k=1)
    np.testing.assert_array_equal(top1, greedy)
    sampled = decoding.continue_prompt(model, variables, prompt, jax.random.key(2), max_new_tokens=5, temperature=1.0)
    assert sampled.shape == (2, 5) and np.all((0 <= np.asarray(sampled)) & (np.asarray(sampled) < 24))


def test_gpt_rejects_sequences_longer_than_its_context():
    model, variables = tiny_gpt()
    with pytest.raises(ValueError, match=r"length 17 exceed the 16 positions"):
        model.apply(variables, np.ones((1, 17), np.int32))
    with pytest.raises(ValueError, match=r"prompt and generated tokens of length 19 exceed the 16 positions"):
        decoding.continue_prompt(model, variables, TOKENS, jax.random.key(0), max_new_tokens=12)


@functools.cache
def tiny_bert():
    model = models.get("bert_small", vocab_size=24, max_length=16, num_layers=2, d_model=16, num_heads=2,
                       mlp_dim=32, dropout_rate=0.0)
    return model, jax.jit(model.init)(jax.random.key(0), TOKENS)


def test_bert_sees_both_sides_and_ignores_padding():
    model, variables = tiny_bert()
    base = model.apply(variables, TOKENS)
    changed = TOKENS.copy()
    changed[:, -1] = 3
    assert not np.allclose(model.apply(variables, changed)[:, 0], base[:, 0])   # the first token sees the last
    padded = np.pad(TOKENS, ((0, 0), (0, 3)))
    np.testing.assert_allclose(model.apply(variables, padded)[:, :7], base, atol=1e-5)
    with pytest.raises(ValueError, match=r"segment ids of shape \(2, 3\)"):
        model.apply(variables, TOKENS, np.zeros((2, 3), np.int32))


def test_masked_lm_corruption_follows_bert_rates():
    tokens = np.full((400, 500), 10, np.int32)
    tokens[:, :50] = 0  # padding is never chosen
    corrupted, chosen = masked_lm.corrupt(jnp.asarray(tokens), jax.random.key(0), vocab_size=1000, mask_id=3)
    corrupted, chosen = np.asarray(corrupted), np.asarray(chosen)
    assert not chosen[:, :50].any()
    assert chosen[:, 50:].mean() == pytest.approx(0.15, abs=0.005)
    picked = corrupted[chosen]
    assert np.mean(picked == 3) == pytest.approx(0.8, abs=0.01)
    assert np.mean((picked != 3) & (picked != 10)) == pytest.approx(0.1 * 995 / 996, abs=0.01)  # random
    assert np.mean(picked == 10) == pytest.approx(0.1, abs=0.01)                                 # kept
    assert picked.min() >= 3 and np.all(corrupted[~chosen] == tokens[~chosen])


def test_masked_lm_loss_is_the_cross_entropy_of_the_hidden_tokens_only():
    model, variables = tiny_bert()
    task = masked_lm.MaskedLM(mask_rate=0.3)
    rng = jax.random.key(5)
    batch = {"tokens": jnp.asarray(TOKENS)}
    loss, (_, metrics) = task.loss(model, variables["params"], {}, batch, {"dropout": rng})
    corrupted, chosen = masked_lm.corrupt(batch["tokens"], jax.random.fold_in(rng, 1), vocab_size=24, mask_id=3,
                                          mask_rate=0.3)
    logits = model.apply(variables, corrupted)
    ce = np.asarray(optax.softmax_cross_entropy_with_integer_labels(logits, TOKENS))
    assert chosen.any()
    assert float(loss) == pytest.approx(ce[np.asarray(chosen)].mean(), rel=1e-5)
    assert float(metrics["token_accuracy"][1]) == int(chosen.sum())


def test_gpt2_forward_macs_follow_kaplan_et_al():
    """Per token, 2 N + 2 n_layer n_ctx d FLOPs (Kaplan et al. 2020, Table 1), i.e. in multiply-adds the
    weight matrices of the blocks (12 d^2 per layer), the tied output (V d) and attention (2 n_ctx d per
    layer, every query against all 1,024 keys as the masked dense product computes it)."""
    d, layers, context, vocab = 768, 12, 1024, 50257
    per_token = layers * 12 * d * d + vocab * d + layers * 2 * context * d
    assert models.summary("gpt2", quiet=True).macs == pytest.approx(context * per_token, rel=1e-3)


@pytest.mark.slow  # 600 steps: the plateau at the unigram guess lasts ~300 of them
def test_bert_learns_to_fill_in_a_token_from_its_repeat_elsewhere_in_the_window():
    """Rows are 8 random symbols repeated 4 times, so every hidden token can be read off 8 positions
    away: masked LM must leave the no-context plateau and restore nearly all of them."""
    model = models.get("bert_small", vocab_size=40, max_length=32, num_layers=2, d_model=64, num_heads=4,
                       mlp_dim=128, dropout_rate=0.0)
    rng = np.random.default_rng(0)
    batch = lambda: {"tokens": jnp.asarray(np.tile(rng.integers(4, 40, (64, 8)), 4), jnp.int32)}
    task = masked_lm.MaskedLM()
    params = model.init(jax.random.key(0), batch()["tokens"])["params"]
    tx = optax.adam(1e-3)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, batch, key):
        (_, (_, metrics)), grads = jax.value_and_grad(
            lambda p: task.loss(model, p, {}, batch, {"dropout": key}), has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, metrics["token_accuracy"]

    for i in range(600):
        params, opt_state, (right, hidden) = step(params, opt_state, batch(), jax.random.key(i))
    assert float(right / hidden) > 0.9

"""RLHF in miniature, its first pieces: the sorting task's hidden rule and labellers, the GPT reward model and the
Bradley-Terry loss."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepzoo import data, models, tasks
from deepzoo.data import sorting


def test_the_hidden_rule_scores_sorted_answers_one_and_penalises_length_and_errors():
    assert sorting.score([3, 1, 2], [1, 2, 3]) == 1.0
    assert sorting.score([3, 1, 2], [1, 3, 2]) == pytest.approx(1 / 3)
    assert sorting.score([3, 1, 2], [1, 2, 3, 3]) == pytest.approx(0.7)             # one digit too many
    assert sorting.score([3, 1, 2, 0], [0, 1]) == pytest.approx(0.5 * 0.7 ** 2)     # two too few
    assert sorting.score([5, 5], []) == 0.0


def test_tokens_round_trip_and_corruptions_make_the_edits_asked():
    tokens = sorting.encode([3, 1, 2], [1, 2, 3])
    assert tokens.shape == (sorting.LENGTH + 1,) and tokens[:6].tolist() == [2, 7, 5, 6, 14, 5]
    assert sorting.decode_answer(tokens, 5) == [1, 2, 3] and tokens[8] == sorting.EOS and not tokens[9:].any()
    assert sorting.encode([3, 1, 2]).shape == (sorting.PROMPT,)
    rng = np.random.default_rng(0)
    assert sorting.corrupt(rng, [1, 2, 3], 0) == [1, 2, 3]
    changed = [sorting.corrupt(rng, [0, 2, 4, 6, 8], 1) for _ in range(200)]
    assert all(abs(len(c) - 5) <= 1 for c in changed) and sum(c != [0, 2, 4, 6, 8] for c in changed) > 150


def test_preferences_follow_the_rule_but_for_the_labellers_noise():
    pairs = data.load("sort_preferences", "validation").arrays
    assert pairs["chosen"].shape == pairs["rejected"].shape == (1000, sorting.LENGTH + 1)
    prompt_digits = lambda t: [int(x) - sorting.DIGIT0 for x in t[1:list(t).index(sorting.SEP)]]
    scores = lambda key: np.asarray([sorting.score(prompt_digits(t), sorting.decode_answer(t, len(prompt_digits(t)) + 2))
                                     for t in pairs[key]])
    chosen, rejected = scores("chosen"), scores("rejected")
    wrong = np.mean(chosen < rejected)
    assert 0.04 < wrong < sorting.NOISE + 0.03            # flipped labels, less the flips of tied pairs
    demos = data.load("sort_demonstrations", "validation").arrays["tokens"]
    assert demos.shape == (1000, sorting.LENGTH + 1) and bool(np.all(demos[:, 0] == sorting.BOS))
    prompts = data.load("sort_prompts", "test").arrays
    assert prompts["prompt"].shape == (1000, sorting.PROMPT) and set(prompts["length"]) == set(range(3, 9))


def test_the_reward_model_reads_each_sequences_last_token():
    model = models.get("gpt_sort_reward")
    tokens = jnp.asarray(np.stack([sorting.encode([3, 1, 2], [1, 2, 3]), sorting.encode([4, 4, 0, 9], [0, 4])]))
    variables = jax.jit(model.init)(jax.random.key(0), tokens)
    apply = jax.jit(model.apply)
    rewards = apply(variables, tokens)
    assert rewards.shape == (2,) and rewards.dtype == jnp.float32
    # Causal attention: the reward at the EOS depends on the tokens up to it; the padding after it does not count.
    np.testing.assert_allclose(apply(variables, tokens[:, :12]), rewards, rtol=1e-5, atol=1e-6)
    other = apply(variables, tokens.at[0, 6].set(sorting.DIGIT0 + 9))
    assert other[0] != rewards[0] and other[1] == rewards[1]


def test_bradley_terry_loss_against_numpy():
    model = models.get("gpt_sort_reward")
    pairs = data.load("sort_preferences", "validation").arrays
    batch = {k: jnp.asarray(v[:6]) for k, v in pairs.items()}
    variables = jax.jit(model.init)(jax.random.key(0), batch["chosen"])
    task = tasks.get("preference")
    loss, (_, metrics) = jax.jit(lambda p: task.loss(model, p, {}, batch, {"dropout": jax.random.key(0)}))(
        variables["params"])
    apply = jax.jit(model.apply)
    margin = np.asarray(apply(variables, batch["chosen"]), np.float64) - np.asarray(apply(variables, batch["rejected"]))
    np.testing.assert_allclose(loss, np.mean(np.log1p(np.exp(-margin))), rtol=1e-5)
    assert metrics["accuracy"][0] == np.sum(margin > 0)

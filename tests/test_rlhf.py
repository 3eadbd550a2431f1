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


def test_answers_are_drawn_after_each_prompt_until_eos_or_the_end():
    from deepzoo.rl.rlhf import sample_answers
    seven = sorting.DIGIT0 + 7
    prompts = jnp.asarray(np.stack([sorting.encode([3, 1, 2]), sorting.encode([9, 8, 7, 6, 5, 4, 3, 2])]))

    def seven_then_eos(tokens):   # a sure next token: EOS after a 7, else 7
        wanted = jnp.where(tokens == seven, sorting.EOS, seven)
        return 30.0 * jax.nn.one_hot(wanted, sorting.VOCAB)

    tokens, drawn = jax.jit(lambda p: sample_answers(seven_then_eos, p, jax.random.key(0), length=26))(prompts)
    tokens, drawn = np.asarray(tokens), np.asarray(drawn)
    assert tokens.shape == drawn.shape == (2, 27)
    np.testing.assert_array_equal(tokens[0, :8], [sorting.BOS, 7, 5, 6, sorting.SEP, seven, sorting.EOS, 0])
    np.testing.assert_array_equal(np.flatnonzero(drawn[0]), [5, 6])
    np.testing.assert_array_equal(tokens[1, 10:12], [seven, sorting.EOS])      # the prompt untouched before it
    np.testing.assert_array_equal(tokens[1, :10], np.asarray(prompts[1]))
    np.testing.assert_array_equal(np.flatnonzero(drawn[1]), [10, 11])
    always_seven = lambda tokens: 30.0 * jax.nn.one_hot(jnp.full(tokens.shape, seven), sorting.VOCAB)
    tokens, drawn = sample_answers(always_seven, prompts, jax.random.key(0), length=26)
    assert bool(np.all(np.asarray(tokens)[:, 10:] == seven))                    # no EOS: drawn to the last position
    np.testing.assert_array_equal(np.asarray(drawn).sum(1), [27 - 5, 27 - 10])


def test_token_ppo_loss_is_the_clipped_objective_over_the_drawn_tokens_written_out():
    model, task = models.get("gpt_sort_policy"), tasks.get("token_ppo", clip=0.2, vf_coef=0.1, ent_coef=0.01)
    tokens = jnp.asarray(data.load("sort_demonstrations", "validation").arrays["tokens"][:3])
    params = jax.jit(model.init)(jax.random.key(0), tokens[:, :-1])["params"]
    params["value_head"]["kernel"] = 0.1 * jnp.ones_like(params["value_head"]["kernel"])     # values not all zero
    logits, value = map(lambda x: np.asarray(x, np.float64), jax.jit(model.apply)({"params": params}, tokens[:, :-1]))
    rng = np.random.default_rng(0)
    mask = (rng.random((3, 26)) < 0.5).astype(np.float32)
    log_pi = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    taken = np.take_along_axis(log_pi, np.asarray(tokens)[:, 1:, None], -1)[..., 0]
    old = taken + rng.normal(0, 0.3, (3, 26))                                  # ratios inside and outside the clip
    adv, ret = rng.normal(size=(3, 26)), rng.normal(size=(3, 26))
    batch = {"tokens": tokens, "action_mask": jnp.asarray(mask), "log_prob": jnp.asarray(old, jnp.float32),
             "advantage": jnp.asarray(adv, jnp.float32), "return": jnp.asarray(ret, jnp.float32)}
    total, (_, metrics) = jax.jit(lambda p: task.loss(model, p, {}, batch, None))(params)
    on = mask > 0
    norm = (adv - adv[on].mean()) / (adv[on].std() + 1e-8)
    ratio = np.exp(taken - old)
    policy = -np.minimum(ratio * norm, np.clip(ratio, 0.8, 1.2) * norm)[on].mean()
    entropy = -(np.exp(log_pi) * log_pi).sum(-1)[on].mean()
    expected = policy + 0.1 * 0.5 * ((value - ret) ** 2)[on].mean() - 0.01 * entropy
    np.testing.assert_allclose(total, expected, rtol=2e-4)
    np.testing.assert_allclose(metrics["clip_fraction"][0], np.sum(np.abs(ratio - 1)[on] > 0.2), atol=0.5)


def test_best_of_n_keeps_the_reward_models_favourite_and_its_analytic_kl():
    from deepzoo.rl import rlhf

    class Fake:   # a "program" whose answers and rewards are made up: scores computed by the hidden rule
        key = jax.random.key(0)

        def _sample_and_score(self, params, prompts, key):
            k = np.arange(len(prompts))
            answers = [sorting.encode([3, 1, 2], [1, 2, 3] if i % 3 == 1 else [2, 1, 3]) for i in k]
            return {"tokens": np.stack(answers), "reward": (k % 3 == 1) * 1.0 + 0.01 * k, "kl": np.zeros(len(k))}

    prompts = jnp.asarray(np.stack([sorting.encode([3, 1, 2])] * 4))
    one, three = rlhf.best_of_n(Fake(), None, prompts, [1, 3])
    assert one["true_score"] == pytest.approx(1 / 3) and one["kl"] == 0.0      # the first draw: [2, 1, 3]
    assert three["true_score"] == 1.0 and three["exact"] == 1.0
    assert three["kl"] == pytest.approx(np.log(3) - 2 / 3)


@pytest.mark.slow
def test_the_rlhf_experiment_writes_its_table_and_figure(run_experiment):
    out = run_experiment("rlhf.py", "--variant=smoke", "--kl_coefs=0.05", "--best_of=1,2")
    table = (out / "results.md").read_text()
    assert "| SFT | 0.00 |" in table and "| best-of-2 (SFT's samples) | 0.19 |" in table   # log 2 - 1/2
    assert "| PPO, KL coefficient 0.05 |" in table
    assert (out / "rlhf.png").stat().st_size > 10_000

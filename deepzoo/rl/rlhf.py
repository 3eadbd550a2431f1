"""RLHF's third step (Ouyang et al. 2022; Ziegler et al. 2019; Stiennon et al. 2020) as a program of the one run loop:
PPO on a language model's sampled answers against a learned reward model, with a per-token KL penalty to the
supervised (SFT) policy it starts from.

One step of the loop is one PPO iteration:
    1. config.rlhf.prompts_per_step prompts of config.dataset's training split (drawn by the step's key); the policy
       (config.model, e.g. gpt_sort_policy: GPT with a value head) samples an answer to each, token by token;
    2. per drawn token t: r_t = -kl_coef (log pi(a_t) - log pi_sft(a_t)), and the reward model's score of the whole
       sequence is added at its last drawn token (EOS, or the last position);
    3. GAE (rl/ppo.py) over the answer's tokens, gamma config.rlhf.gamma, lambda config.rlhf.gae_lambda;
    4. config.rlhf.epochs passes of config.rlhf.minibatches minibatches: the one train step with task token_ppo.
The supervised policy and the reward model are the newest checkpoints of the runs in config.rlhf.sft_workdir and
config.rlhf.reward_workdir (their config.json names the reward model). Evaluation samples an answer to every prompt of
config.dataset.eval_split and reports the reward model's score (proxy_reward), the hidden rule's (true_score,
deepzoo/data/sorting.py), the fraction sorted perfectly (exact) and the KL to the SFT policy (the sampled answers'
summed log pi - log pi_sft: a Monte Carlo estimate of KL(pi || pi_sft) per answer, in nats).
"""
import json

import jax
import jax.numpy as jnp
import numpy as np

from deepzoo import data, models, tasks
from deepzoo.data import sorting
from deepzoo.rl.ppo import gae
from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.rl import token_log_probs
from deepzoo.train import files, loop, optim
from deepzoo.train.checkpoint import load_variables
from deepzoo.train.state import create_train_state
from deepzoo.train.step import make_train_step

# Random streams folded into key(config.seed).
_PROMPTS, _SAMPLE, _SHUFFLE, _EVALUATION = 0, 1, 2, 3


def sample_answers(logits_fn, prompts, key, *, length: int, temperature: float = 1.0):
    """Answers drawn after right-padded prompts (B, P) (PAD 0 after each prompt) until EOS or `length` + 1 tokens:
    logits_fn maps tokens (B, length) to next-token logits (B, length, V) (one full pass per drawn token: the
    prompts differ in length) -> (tokens (B, length + 1), drawn (B, length + 1): 1 at the tokens drawn)."""
    batch, rows = prompts.shape[0], jnp.arange(prompts.shape[0])
    tokens = jnp.zeros((batch, length + 1), jnp.int32).at[:, :prompts.shape[1]].set(prompts)
    start = jnp.sum(prompts != sorting.PAD, axis=1)                      # the first answer position

    def draw(carry):
        i, tokens, drawn, done = carry
        position = jnp.minimum(start + i, length)
        live = ~done & (start + i <= length)
        logits = logits_fn(tokens[:, :-1])[rows, position - 1]
        token = jax.random.categorical(jax.random.fold_in(key, i), logits / temperature)
        tokens = tokens.at[rows, position].set(jnp.where(live, token, tokens[rows, position]))
        drawn = drawn.at[rows, position].set(drawn[rows, position] | live)
        return i + 1, tokens, drawn, done | ~live | (token == sorting.EOS)

    carry = (0, tokens, jnp.zeros_like(tokens, bool), jnp.zeros(batch, bool))
    _, tokens, drawn, _ = jax.lax.while_loop(lambda c: ~jnp.all(c[3]), draw, carry)
    return tokens, drawn


def true_scores(prompts, tokens) -> np.ndarray:
    """The hidden rule's score of each answer (host side): prompts (B, P), tokens (B, T + 1)."""
    out = []
    for prompt, row in zip(np.asarray(prompts), np.asarray(tokens)):
        digits = [int(t) - sorting.DIGIT0 for t in prompt if sorting.DIGIT0 <= t < sorting.DIGIT0 + 10]
        out.append(sorting.score(digits, sorting.decode_answer(row, len(digits) + 2)))
    return np.asarray(out)


def _run_model(workdir):
    """(the model a finished run in `workdir` trained, as its config.json names it; its variables)."""
    config = json.loads((files.path(workdir) / "config.json").read_text())
    return models.get(config["model"]["name"], **config["model"]["kwargs"]), load_variables(workdir)


class RLHF:
    """PPO against a reward model, KL-penalised to the SFT policy, as a loop program (module docstring); its state is
    {"policy": TrainState}."""
    unit, steps_field, members = "iteration", "config.num_train_steps", ()
    flops_per_step = 0.0

    def __init__(self, config):
        self.config, r = config, config.rlhf
        self.num_steps = config.num_train_steps
        self.log_every, self.eval_every = config.log_every_steps, config.eval_every_steps
        self.checkpoint_every, self.keep_checkpoints = config.checkpoint_every_steps, config.keep_checkpoints
        self.policy = models.get(config.model.name, **config.model.kwargs)
        self.task = tasks.get("token_ppo", **config.task.kwargs)
        self.tx, _ = optim.create(config.optimizer, self.num_steps * r.epochs * r.minibatches)
        self.length = self.policy.max_length - 1                   # the policy reads tokens[:, :-1]
        self.sft = load_variables(r.sft_workdir)["params"]
        self.reward_model, self.reward_variables = _run_model(r.reward_workdir)
        self.prompts = jnp.asarray(data.load(config.dataset.name, "train").arrays["prompt"])
        self.eval_prompts = jnp.asarray(data.load(config.dataset.name, config.dataset.eval_split).arrays["prompt"])
        self.key = jax.random.key(config.seed)
        self._train_step = make_train_step(self.policy, self.task, self.tx, seed=config.seed)
        self._iteration = jax.jit(self._ppo_iteration, donate_argnums=0)
        self._sample_and_score = jax.jit(self.sample_and_score)

    # ------------------------------------------------------------------------------------------- state
    def _init(self):
        example = jnp.zeros((2, self.length), jnp.int32)
        policy = create_train_state(self.policy, self.tx, (example,), seed=self.config.seed)
        missing = sorted(set(policy.params) - set(self.sft) - {"value_head"})
        if missing or set(self.sft) - set(policy.params):
            raise ValueError(f"the SFT run in {self.config.rlhf.sft_workdir} has layers {sorted(self.sft)}, but "
                             f"{self.config.model.name} has {sorted(policy.params)}: train the SFT model with the "
                             f"policy's blocks (configs/rlhf.py:sft).")
        params = {**policy.params, **self.sft}                      # the value head starts at zero
        return {"policy": policy.replace(params=params, opt_state=self.tx.init(params))}

    def abstract_state(self):
        """The state's ShapeDtypeStructs: the restore target."""
        return jax.eval_shape(self._init)

    def init(self):
        """The policy at the SFT run's parameters, a zero value head, a fresh optimizer."""
        return jax.jit(self._init)()

    def begin(self, step: int):
        """Nothing to open: the prompts live on the device, each step draws its own."""

    # ----------------------------------------------------------------------------------------- rollout
    def _logits(self, params, tokens):
        return self.policy.apply({"params": params}, tokens)

    def sample_and_score(self, params, prompts, key):
        """Answers of the policy with `params` to `prompts`, scored -> {"tokens", "action_mask" (B, T): 1 where
        token t + 1 was drawn, "log_prob", "log_prob_sft", "value" (B, T), "reward" (B,): the reward model's
        score, "kl" (B,): sum of log pi - log pi_sft over the drawn tokens}."""
        tokens, drawn = sample_answers(lambda t: self._logits(params, t)[0], prompts, key, length=self.length,
                                       temperature=self.config.rlhf.temperature)
        logits, value = self._logits(params, tokens[:, :-1])
        log_prob = token_log_probs(logits, tokens)
        log_prob_sft = token_log_probs(self._logits({**params, **self.sft}, tokens[:, :-1])[0], tokens)
        mask = drawn[:, 1:].astype(jnp.float32)
        reward = self.reward_model.apply(self.reward_variables, tokens)
        return {"tokens": tokens, "action_mask": mask, "log_prob": log_prob, "log_prob_sft": log_prob_sft,
                "value": value, "reward": reward, "kl": jnp.sum((log_prob - log_prob_sft) * mask, axis=1)}

    def _ppo_iteration(self, state, step):
        r = self.config.rlhf
        key = jax.random.fold_in(self.key, step)
        pick = jax.random.choice(jax.random.fold_in(key, _PROMPTS), len(self.prompts), (r.prompts_per_step,),
                                 replace=False)
        rollout = self.sample_and_score(state["policy"].params, self.prompts[pick], jax.random.fold_in(key, _SAMPLE))
        mask = rollout["action_mask"]
        last = jnp.max(jnp.where(mask > 0, jnp.arange(mask.shape[1]), 0), axis=1)         # the last drawn token
        at_last = jax.nn.one_hot(last, mask.shape[1])
        rewards = -r.kl_coef * (rollout["log_prob"] - rollout["log_prob_sft"]) * mask + at_last * rollout["reward"][:, None]
        ended = (jnp.arange(mask.shape[1]) >= last[:, None]).astype(jnp.float32)       # nothing is owed past it
        advantage, returns = gae(rewards.T, rollout["value"].T, ended.T, jnp.zeros(len(pick)), r.gamma, r.gae_lambda)
        batch = {"tokens": rollout["tokens"], "action_mask": mask, "log_prob": rollout["log_prob"],
                 "advantage": advantage.T, "return": returns.T}

        def update(learner, perm):
            learner, metrics = self._train_step(learner, jax.tree.map(lambda x: x[perm], batch))
            return learner, metrics

        n = r.prompts_per_step
        perms = jnp.stack([jax.random.permutation(k, n) for k in
                           jax.random.split(jax.random.fold_in(key, _SHUFFLE), r.epochs)])
        learner, metrics = jax.lax.scan(update, state["policy"], perms.reshape(r.epochs * r.minibatches, -1))
        metrics = jax.tree.map(lambda x: jnp.sum(x, axis=0), metrics)
        ones = jnp.ones(n)
        metrics.update({"proxy_reward": metrics_lib.pair(rollout["reward"], ones),
                        "kl": metrics_lib.pair(rollout["kl"], ones),
                        "answer_tokens": metrics_lib.pair(mask.sum(1), ones)})
        return {"policy": learner}, metrics

    def run(self, state, step: int):
        """One PPO iteration, dispatched -> (state, {name: (sum, count)})."""
        return self._iteration(state, jnp.int32(step))

    def train_records(self, metrics, step: int) -> list[dict]:
        """One "train" record: the means since the last record."""
        return [{"split": "train", **metrics_lib.means(metrics)}]

    def evaluate(self, state, step: int):
        """A record of the policy's answers to every evaluation prompt: proxy reward, true score, exact, KL."""
        return state, [{"split": "test", **score_policy(self, state["policy"].params, self.eval_prompts)}]

    def summary(self, state, records) -> dict:
        """results.json: the last evaluation's numbers."""
        last = [r for r in records if r["split"] == "test"][-1]
        return {k: v for k, v in last.items() if k not in ("split", "step")}

    def plot(self, records, path):
        """The proxy reward, true score and KL per logged step (plots/curves.learning_curves)."""
        from deepzoo.plots import curves
        curves.learning_curves(records, path)


def _answers(program: RLHF, params, prompts, key, chunk: int):
    """The policy's answer to each of `prompts`, drawn `chunk` at a time (key fold_in(key, offset)) -> (the reward
    model's scores, KLs to the SFT policy, true scores), each (len(prompts),), on the host."""
    key = jax.random.fold_in(program.key, _EVALUATION) if key is None else key
    rewards, kls, scores = [], [], []
    for start in range(0, len(prompts), chunk):
        part = prompts[start:start + chunk]
        out = program._sample_and_score(params, part, jax.random.fold_in(key, start))
        rewards.append(np.asarray(out["reward"]))
        kls.append(np.asarray(out["kl"]))
        scores.append(true_scores(part, out["tokens"]))
    return np.concatenate(rewards), np.concatenate(kls), np.concatenate(scores)


def score_policy(program: RLHF, params, prompts, key=None, *, chunk: int = 500) -> dict:
    """The policy with `params` answering `prompts` once each (the evaluation key by default): mean proxy_reward,
    true_score, exact (fraction with true score 1) and kl (nats per answer)."""
    rewards, kls, scores = _answers(program, params, prompts, key, chunk)
    return {"proxy_reward": float(rewards.mean()), "true_score": float(scores.mean()),
            "exact": float(np.mean(scores == 1.0)), "kl": float(kls.mean())}


def train_rlhf(config, workdir, *, allow_changes: bool = False) -> dict:
    """Runs PPO against the reward model in `workdir` (resuming from its checkpoint); returns the summary."""
    return loop.run(RLHF(config), workdir, allow_changes=allow_changes)


def best_of_n(program: RLHF, params, prompts, ns, key=None, *, chunk: int = 500) -> list[dict]:
    """Best-of-n sampling (Nakano et al. 2021; Gao et al. 2022): the policy with `params` draws max(ns) answers per
    prompt, and for each n in `ns` the first n's best by the reward model is kept -> one dict per n: mean
    proxy_reward and true_score of the kept answers, exact, and kl = log n - (n - 1) / n, the analytic KL of
    best-of-n to the sampling policy."""
    most = max(ns)
    rewards, _, scores = _answers(program, params, jnp.repeat(prompts, most, axis=0), key, chunk)
    rewards, scores = rewards.reshape(len(prompts), most), scores.reshape(len(prompts), most)
    results = []
    for n in ns:
        pick = np.argmax(rewards[:, :n], axis=1)
        kept = np.take_along_axis(scores[:, :n], pick[:, None], 1)[:, 0]
        results.append({"n": n, "proxy_reward": float(np.take_along_axis(rewards[:, :n], pick[:, None], 1).mean()),
                        "true_score": float(kept.mean()), "exact": float(np.mean(kept == 1.0)),
                        "kl": float(np.log(n) - (n - 1) / n)})
    return results

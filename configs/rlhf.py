"""RLHF in miniature (Ouyang et al. 2022's three steps) on sorting prompts whose quality a hidden rule scores
(deepzoo/data/sorting.py):
    python -m deepzoo.main --config=configs/rlhf.py:sft --workdir=runs/rlhf/sft

Variants:
  sft     step 1: gpt_sort (2 blocks of width 64), trained from scratch (no pre-training here) by next-token prediction on
          20,000 labellers' demonstrations (prompt and answer, 0 or 1 mistakes each)
  reward  step 2: gpt_sort_reward (the same blocks, a scalar head on the last token) on 10,000 preference pairs by the
          Bradley-Terry loss (task preference); accuracy on 1,000 held-out pairs
  ppo     step 3 (deepzoo/rl/rlhf.py): gpt_sort_policy (the SFT model and a value head) answers 64 training prompts per
          iteration; PPO (4 epochs of 4 minibatches, clip 0.2) against the reward model with a per-token KL penalty
          to the SFT policy (--config.rlhf.kl_coef, default 0.05), starting from the runs in
          --config.rlhf.sft_workdir and --config.rlhf.reward_workdir; scored on the 1,000 test prompts
Adam 1e-3 with a cosine decay and batches of 64 for sft and reward; Adam 1e-4 for ppo (300 iterations). Options: ",small" (a quarter
of the steps), ",smoke" (a few steps).
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

STEPS = {"sft": 3000, "reward": 2000, "ppo": 300}


def get_config(arg: str | None = None):
    variant, options = parse_arg(arg, variants=tuple(STEPS), options=("small", "smoke"), default="sft")
    config = common.supervised()
    config.dataset.name = "sort_demonstrations" if variant == "sft" else "sort_preferences"
    config.dataset.eval_split = "validation"
    config.model = ml_collections.ConfigDict(dict(name="gpt_sort" if variant == "sft" else "gpt_sort_reward",
                                                  kwargs=ml_collections.ConfigDict()))
    config.task = ml_collections.ConfigDict(dict(name="language_model" if variant == "sft" else "preference",
                                                 kwargs=ml_collections.ConfigDict()))
    config.optimizer.update(name="adam", learning_rate=1e-3, schedule="cosine", warmup_steps=100, **common.ADAM)
    config.batch_size, config.eval_batch_size = 64, 200
    config.num_train_steps = STEPS[variant]
    config.log_every_steps, config.eval_every_steps, config.checkpoint_every_steps = 100, 500, 500
    config.keep_checkpoints = 1
    if variant == "ppo":
        _ppo(config)
    if "small" in options:
        common.shorten(config, config.num_train_steps // 4)
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 4, 2, 4
        config.checkpoint_every_steps, config.optimizer.warmup_steps, config.batch_size = 4, 0, 8
        if variant == "ppo":
            config.rlhf.prompts_per_step = 8
    return config


def _ppo(config):
    config.program = "rlhf"
    config.dataset.name, config.dataset.eval_split = "sort_prompts", "test"
    config.model.name = "gpt_sort_policy"
    config.task.name, config.task.kwargs = "token_ppo", ml_collections.ConfigDict(dict(clip=0.2, vf_coef=0.1))
    config.rlhf = ml_collections.ConfigDict(dict(
        sft_workdir="runs/rlhf/sft", reward_workdir="runs/rlhf/reward",
        kl_coef=0.05,              # nats of KL to the SFT policy traded per unit of reward
        prompts_per_step=64, epochs=4, minibatches=4,
        gamma=1.0, gae_lambda=0.95, temperature=1.0))
    config.optimizer.update(learning_rate=1e-4, schedule="constant", warmup_steps=0)
    config.log_every_steps, config.eval_every_steps, config.checkpoint_every_steps = 10, 25, 50

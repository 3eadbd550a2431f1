"""Masked-language-model pre-training (BERT) on the docstrings of Python's standard library (offline).

    python -m deepzoo.main --config=configs/masked_lm.py --workdir=runs/masked_lm/bert
    python experiments/masked_lm.py          # trains it, reports MLM accuracy and example fill-ins

A byte-level BERT (4 post-LN blocks of width 192, 6 heads, learned positions and segments, the MLM head
tied to the word embeddings) on 64-character windows (sized for two CPU cores). Devlin et al. 2019's
corruption (80% [MASK], 10% random, 10% kept; the byte vocabulary's unused UNK id serves as [MASK]) of
40% of the characters rather than their 15% (Wettig et al. 2022, "Should you mask 15% in masked language
modeling?", find 40% better), and their optimizer scaled to the model: AdamW with weight decay 0.01,
linear warm-up then linear decay (they used 1e-4 for BERT-base; a model this small takes 1e-3).
Why 40% and batch 128: with 15% of 32 windows (about 300 hidden characters a step) every run stayed on
the no-context plateau (24.7% after 6,000 steps, the unigram's accuracy); 40% of 128 windows (about
3,300 a step, what the GPT of configs/char_lm.py learns from) left it after ~600 steps.
Options: ",small" (800 steps on 32-byte windows) and ",smoke" (a few tiny steps).
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg


def get_config(arg: str | None = None):
    _, options = parse_arg(arg, variants=("",), options=("smoke", "small"))
    config = common.supervised()

    config.dataset.name = "python_docstrings"   # prepared offline on first use (deepzoo/data/builders.py)
    config.dataset.eval_split = "validation"
    config.dataset.max_length = 63              # windows of 64 bytes: the model's 64 positions

    config.model = ml_collections.ConfigDict()
    config.model.name = "bert_small"            # its size: deepzoo/models/bert.py (4 blocks of width 192, 6 heads)
    config.model.kwargs = ml_collections.ConfigDict(dict(
        vocab_size=260, max_length=64, dropout_rate=0.1,
        init_std=0.02,
        dtype="float32"))

    config.task = ml_collections.ConfigDict()
    config.task.name = "masked_lm"
    config.task.kwargs = ml_collections.ConfigDict(dict(mask_rate=0.4, mask_id=3, num_special=4))

    config.optimizer.update(name="adamw", learning_rate=1e-3, schedule="linear", warmup_steps=100, **common.ADAM)
    config.optimizer.update(eps=1e-6, weight_decay=0.01, grad_clip_norm=1.0)

    config.batch_size = 128
    config.num_train_steps = 2500
    config.eval_batch_size = 256
    config.log_every_steps = 50
    config.eval_every_steps = 250
    config.checkpoint_every_steps = 250
    config.keep_checkpoints = 2
    config.log_mfu = True
    config.reference = ("Devlin et al. 2019 report downstream scores, not MLM accuracy; the no-context "
                        "baseline beside the result says what the two-sided context adds")

    if "small" in options:   # 32-byte windows: twice the step rate, and the plateau left after ~450 steps, not ~650
        config.dataset.max_length, config.model.kwargs.max_length = 31, 32
        common.shorten(config, 800)
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 4, 2, 4
        config.checkpoint_every_steps = 4
        config.batch_size, config.eval_batch_size = 16, 64
        config.dataset.max_length = 31
        config.model.kwargs.update(d_model=32, num_layers=1, num_heads=2, mlp_dim=64, max_length=32)
        config.optimizer.warmup_steps = 1
    return config

"""Character-level language model on the docstrings of Python's standard library (offline).

    python -m deepzoo.main --config=configs/char_lm.py:lstm --workdir=runs/char_lm/lstm
    python experiments/char_lm.py --cell=lstm          # trains it, reports bits per character, samples

Variants: the cell (rnn, gru, lstm) or gpt, optionally followed by ",small" (1,500 steps:
the same recipe, shortened) or ",smoke" (a few steps, for tests).
gpt is a small GPT-2 (4 pre-LN blocks of width 192, 6 heads, learned positions, tied output) trained
as nanoGPT trains its character model: AdamW 1e-3 with weight decay 0.1, betas (0.9, 0.99), clipping at 1;
its progress line reports model FLOPs utilisation (log_mfu).
The text is bytes (deepzoo.data.text.ByteVocab), so bits per token is bits per character (the corpus
is nearly all ASCII). Recipe after Karpathy's char-rnn (2 layers, sequences of 100, Adam 2e-3, clipping),
sized for two CPU cores: 256 units, batch 32; the loss is averaged over every position of every window.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

CELLS = ("rnn", "gru", "lstm", "gpt")


def get_config(arg: str | None = None):
    cell, options = parse_arg(arg, variants=CELLS, options=("smoke", "small"), default="lstm")
    config = common.supervised()

    config.dataset.name = "python_docstrings"  # prepared offline on first use (deepzoo/data/builders.py)
    config.dataset.eval_split = "validation"
    config.dataset.max_length = 100            # characters read per window (char-rnn seq_length 50-100)

    config.model = ml_collections.ConfigDict()
    if cell == "gpt":
        config.model.name = "gpt_small"        # its size: deepzoo/models/gpt.py (4 blocks of width 192, 6 heads)
        config.model.kwargs = ml_collections.ConfigDict(dict(vocab_size=260, dropout_rate=0.1, dtype="float32"))
    else:
        config.model.name = f"char_{cell}"
        config.model.kwargs = ml_collections.ConfigDict(dict(
            vocab_size=260, embed_dim=64, features=256, num_layers=2, dropout_rate=0.1, dtype="float32"))

    config.task = ml_collections.ConfigDict()
    config.task.name = "language_model"
    config.task.kwargs = ml_collections.ConfigDict()

    config.optimizer.update(name="adam", learning_rate=2e-3, schedule="cosine", warmup_steps=100, **common.ADAM)
    config.optimizer.grad_clip_norm = 1.0      # global-norm clipping (Pascanu et al. 2013): RNNs explode
    if cell == "gpt":
        config.optimizer.update(name="adamw", learning_rate=1e-3, b2=0.99, weight_decay=0.1)
    config.log_mfu = cell == "gpt"

    config.batch_size = 32
    config.num_train_steps = 3000
    config.eval_batch_size = 256
    config.checkpoint_every_steps = 500
    config.keep_checkpoints = 2
    config.reference = ("char-rnn LSTMs reach ~1.3-1.5 bits per character on English prose; code "
                        "documentation is more repetitive")

    if "small" in options:
        common.shorten(config, 1500)
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 6, 3, 6
        config.checkpoint_every_steps = 6
        config.batch_size, config.eval_batch_size = 16, 64
        config.dataset.max_length = 32
        config.model.kwargs.update(dict(d_model=32, num_layers=1, num_heads=2) if cell == "gpt" else
                                   dict(features=32))
        config.optimizer.warmup_steps = 1
    return config

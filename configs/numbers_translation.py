"""English -> German number words (offline): seq2seq without attention, with Bahdanau's, with Luong's,
and the Transformer.

    python -m deepzoo.main --config=configs/numbers_translation.py:bahdanau --workdir=runs/numbers/bahdanau
    python experiments/translation.py        # trains all six, BLEU and exact match by input length

German writes units before tens and glues words together ("twenty-one" -> "einundzwanzig", "345" ->
"dreihundertfünfundvierzig"), so a decoder must look back at the right part of the source: what
attention is for. Variants: none, bahdanau, luong, none_lstm, bahdanau_lstm (the first two with LSTM
cells), transformer, optionally followed by ",small" (400 steps) or ",smoke".

One recipe for the five recurrent models (the comparison is the attention): the same bidirectional
encoder and decoder of 256 GRU (or LSTM) units, a joint SentencePiece vocabulary of 256 pieces trained on the
train split, Adam 1e-3 with clipping at 1. The Transformer (3 + 3 post-LN layers of width 128, 4 heads,
about the recurrent models' parameter count) keeps its paper's recipe, scaled down: Adam (0.9, 0.98,
1e-9), the rsqrt schedule with a 250-step warm-up, label smoothing 0.1, dropout 0.1.
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

# Only the attention differs: every model has the same bidirectional GRU encoder and GRU decoder (the
# papers' own encoders are in configs/wmt14_seq2seq.py). A first run gave Luong's model its paper's
# one-directional LSTM: it learned far more slowly than the others (1% exact at step 1,000 against 97%
# without attention), which said more about the cell than about the attention.
ATTENTION = {
    "none": dict(attention="none"),          # Cho et al. 2014: the encoder's final states at every step
    "bahdanau": dict(attention="bahdanau"),  # additive, from the previous state (RNNsearch)
    "luong": dict(attention="luong"),        # multiplicative ("general"), from the new state, input feeding
    # the same two with LSTM cells (Sutskever et al. 2014's cell; Luong et al. 2015 used it too)
    "none_lstm": dict(attention="none", cell="lstm"),
    "bahdanau_lstm": dict(attention="bahdanau", cell="lstm"),
}
MODELS = (*ATTENTION, "transformer")


def get_config(arg: str | None = None):
    attention, options = parse_arg(arg, variants=MODELS, options=("smoke", "small"), default="bahdanau")
    config = common.supervised()

    config.dataset.name = "numbers_en_de"       # prepared offline on first use (deepzoo/data/builders.py)
    config.dataset.train_split = "train"        # 50,000 numbers below a billion
    config.dataset.eval_split = "validation"    # 2,000; the experiment reports on "test"
    config.dataset.languages = ("en", "de")     # source, target
    config.dataset.vocab_size = 256             # one SentencePiece model for both languages
    config.dataset.max_length = 32              # pieces, EOS included (the longest is 28); longer ones are cut

    config.model = ml_collections.ConfigDict()
    config.task = ml_collections.ConfigDict()
    config.task.name = "seq2seq"
    if attention == "transformer":
        config.model.name = "transformer_small"  # 3 + 3 layers of width 128, 4 heads (deepzoo/models/transformer.py)
        config.model.kwargs = ml_collections.ConfigDict(dict(vocab_size=256, dropout_rate=0.1, max_length=32,
                                                             dtype="float32"))
        config.task.kwargs = ml_collections.ConfigDict(dict(label_smoothing=0.1, eval_decode_length=32))
        config.optimizer.update(name="adam", learning_rate=2e-3, schedule="rsqrt", warmup_steps=250, b1=0.9,
                                b2=0.98, eps=1e-9)
    else:
        config.model.name = "seq2seq"
        config.model.kwargs = ml_collections.ConfigDict(dict(
            vocab_size=256, embed_dim=128, features=256, cell="gru", bidirectional=True, encoder_layers=1,
            decoder_layers=1, dropout_rate=0.1, dtype="float32"))
        config.model.kwargs.update(ATTENTION[attention])
        config.task.kwargs = ml_collections.ConfigDict(dict(
            label_smoothing=0.0,
            eval_decode_length=32))             # evaluation also decodes greedily: exact_match
        config.optimizer.update(name="adam", learning_rate=1e-3, schedule="cosine", warmup_steps=100, **common.ADAM)
        config.optimizer.grad_clip_norm = 1.0

    config.batch_size = 64
    config.num_train_steps = 2500               # ~3 epochs of the 50,000 pairs
    config.eval_batch_size = 500
    config.checkpoint_every_steps = 500
    config.keep_checkpoints = 2
    config.reference = "Bahdanau et al. 2015: attention keeps BLEU up on long sentences where RNNencdec falls"

    if "small" in options:
        common.shorten(config, 400)
        config.eval_every_steps = 200           # each evaluation decodes the 2,000 validation pairs greedily
    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 4, 2, 4
        config.checkpoint_every_steps = 4
        config.batch_size, config.eval_batch_size = 16, 1000
        config.model.kwargs.update(dict(d_model=16, mlp_dim=32, encoder_layers=1, decoder_layers=1)
                                   if attention == "transformer" else dict(embed_dim=16, features=16))
        config.task.kwargs.eval_decode_length = 8
        config.optimizer.warmup_steps = 1
    return config

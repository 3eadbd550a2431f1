"""English -> German (or French) on the messages of the gettext catalogs installed on the machine: real
sentences translated by people (menus, error messages, help texts), no download.

    python -m deepzoo.main --config=configs/gettext_translation.py:bahdanau --workdir=runs/gettext_en_de/bahdanau
    python -m deepzoo.main --config=configs/gettext_translation.py:transformer,fr --workdir=runs/gettext_en_fr/transformer
    python experiments/translation.py --corpus=gettext_en_de    # trains all six, sacreBLEU by input length

The models and their recipes are configs/numbers_translation.py's (none, bahdanau, luong, none_lstm,
bahdanau_lstm, transformer), so that the two corpora compare the same networks; what changes is the data:
the gettext_en_de (or, with ",fr", gettext_en_fr) dataset of deepzoo/data/gettext_builder.py, a joint
SentencePiece vocabulary of 4,000 pieces trained on its train split (as WMT's systems; the format placeholders
found 3 times or more, %s, %d, %.250s ..., are pieces of their own; a message is then 10 English and 12 German
pieces at the median, 22 and 25 at the 90th percentile), sequences cut at 48 pieces (2.8%
of the EN-DE pairs are longer on one side: --help texts), and 3,000 steps. Options: ",fr", ",small" (a third
of the steps) and ",smoke".
"""
from configs import common
from configs import numbers_translation
from deepzoo.config import parse_arg

VOCAB_SIZE = 4000
MAX_LENGTH = 48


def get_config(arg: str | None = None):
    model, options = parse_arg(arg, variants=numbers_translation.MODELS, options=("fr", "small", "smoke"),
                               default="bahdanau")
    config = numbers_translation.get_config(model + (",smoke" if "smoke" in options else ""))

    language = "fr" if "fr" in options else "de"
    config.dataset.name = f"gettext_en_{language}"   # prepared from the installed catalogs on first use
    config.dataset.languages = ("en", language)
    vocab_size = 90 if "smoke" in options else VOCAB_SIZE   # a smoke test's few catalogs hold ~90 pieces
    config.dataset.vocab_size = config.model.kwargs.vocab_size = vocab_size
    if "smoke" not in options:
        config.dataset.max_length = MAX_LENGTH
        config.task.kwargs.eval_decode_length = MAX_LENGTH
        if model == "transformer":
            config.model.kwargs.max_length = MAX_LENGTH
        # ~5.7 epochs of the 33,706 training pairs, batch 64. On 2 CPU cores alone: Transformer 1.18 and
        # Bahdanau 1.12 steps/s, so 42-45 min each.
        config.num_train_steps = 3000
        config.eval_every_steps = 1000
        config.checkpoint_every_steps = 500
    config.reference = ("Bahdanau et al. 2015: attention keeps BLEU up on long sentences where RNNencdec falls; "
                        "Vaswani et al. 2017: the Transformer beats the recurrent models (on WMT'14, another corpus)")
    if "small" in options:
        common.shorten(config, config.num_train_steps // 3)
    return config

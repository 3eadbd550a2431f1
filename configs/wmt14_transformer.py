"""The Transformer on WMT'14 English -> German, for a pod (TFDS `wmt14_translate/de-en`): Vaswani et al.
2017, section 5 and Table 3.

    python -m deepzoo.main --config=configs/wmt14_transformer.py:base --workdir=gs://bucket/wmt14/base
    python experiments/translation.py --config=configs/wmt14_transformer.py:base \
        --workdir=gs://bucket/wmt14/base --average_last=5         # newstest2014, sacrebleu
    (see launch/ for multi-host starts; the dataset must be prepared in ArrayRecord format:
     tfds build wmt14_translate/de-en --file_format=array_record --data_dir=$TFDS_DATA_DIR)

Variants:
  base   6 layers, d 512, d_ff 2048, 8 heads, P_drop 0.1; 100k steps (12 hours on 8 P100s); the paper
         averages the last 5 checkpoints. Expected: 27.3 BLEU on newstest2014 (tokenised BLEU).
  big    d 1024, d_ff 4096, 16 heads, P_drop 0.3; 300k steps (3.5 days); last 20 checkpoints averaged.
         Expected: 28.4 BLEU.
sacreBLEU (detokenised, no compound splitting) runs about a point below the paper's tokenised BLEU.
Training cost (the paper's Table 2): 3.3e18 FLOPs for base, 2.3e19 for big; the usual estimate of
6 x parameters x tokens gives 6 x 63.1M x 50k x 100k = 1.9e18 and 6 x 214M x 50k x 300k = 1.9e19.
Both: Adam (0.9, 0.98, 1e-9), lrate = d^-0.5 min(step^-0.5, step 4000^-1.5), label smoothing 0.1, beam 4
with length penalty 0.6, a shared vocabulary of 37,000 pieces (SentencePiece here; byte-pair encoding
in the paper). Batches of about 25,000 source and 25,000 target tokens: 768 sentence pairs of ~32
pieces each (the paper batched by length; here sentences are padded to max_length, cut beyond it).
Append ",smoke" for a few tiny steps (needs the dataset, or tfds mock data).
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

TRAIN_PAIRS = 4_508_785          # wmt14_translate/de-en train split (TFDS 1.0.0)

# d_model is the model's width (Table 3), here only for the learning rate of eq. 3.
RECIPES = {
    "base": dict(model="transformer_base", d_model=512, dropout_rate=0.1, steps=100_000, average_last=5,
                 reference="Vaswani et al. 2017, Table 2: 27.3 BLEU (EN-DE newstest2014, tokenised); "
                           "sacreBLEU about 26"),
    "big": dict(model="transformer_big", d_model=1024, dropout_rate=0.3, steps=300_000, average_last=20,
                reference="Vaswani et al. 2017, Table 2: 28.4 BLEU (EN-DE newstest2014, tokenised); "
                          "sacreBLEU about 27.4"),
}


def get_config(arg: str | None = None):
    name, options = parse_arg(arg, variants=tuple(RECIPES), options=("smoke",), default="base")
    recipe = RECIPES[name]
    config = common.supervised()

    config.dataset.name = "wmt14_translate/de-en"
    config.dataset.eval_split = "validation"     # newstest2013 (the paper's development set); test: newstest2014
    config.dataset.cache = False
    config.dataset.prefetch = 8
    config.dataset.threads = 8
    config.dataset.languages = ("en", "de")
    config.dataset.vocab_size = 37000            # shared source-target vocabulary (section 5.1)
    config.dataset.max_length = 128

    config.model = ml_collections.ConfigDict()
    config.model.name = recipe["model"]
    config.model.kwargs = ml_collections.ConfigDict(dict(vocab_size=37000, max_length=128,
                                                         dropout_rate=recipe["dropout_rate"], dtype="bfloat16"))

    config.task = ml_collections.ConfigDict()
    config.task.name = "seq2seq"
    config.task.kwargs = ml_collections.ConfigDict(dict(label_smoothing=0.1, eval_decode_length=0))

    config.optimizer.update(name="adam", b1=0.9, b2=0.98, eps=1e-9, schedule="rsqrt", warmup_steps=4000,
                            learning_rate=recipe["d_model"] ** -0.5 * 4000 ** -0.5)   # the peak of eq. 3, at step 4000

    config.batch_size = 768
    config.num_train_steps = recipe["steps"]
    config.eval_batch_size = 512
    config.log_every_steps = 200
    config.eval_every_steps = 5_000
    config.keep_checkpoints = recipe["average_last"]   # what checkpoint averaging reads
    config.decode = ml_collections.ConfigDict(dict(beam_size=4, length_penalty=0.6,
                                                   average_last=recipe["average_last"]))
    config.reference = recipe["reference"]

    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 2, 1, 2
        config.checkpoint_every_steps = 1
        config.batch_size, config.eval_batch_size = 8, 8
        config.dataset.update(vocab_size=64, max_length=16, prefetch=0, threads=1)
        config.model.kwargs.update(vocab_size=64, max_length=16, dtype="float32")
        config.model.name = "transformer_small"
        config.decode.average_last = 2
        config.keep_checkpoints = 2
    return config

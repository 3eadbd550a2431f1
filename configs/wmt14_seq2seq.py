"""The recurrent seq2seq models on WMT'14 English -> German, for a pod (TFDS `wmt14_translate/de-en`).

    python -m deepzoo.main --config=configs/wmt14_seq2seq.py:luong --workdir=gs://bucket/wmt14/luong
    (see launch/ for multi-host starts; the dataset must be prepared in ArrayRecord format:
     tfds build wmt14_translate/de-en --file_format=array_record --data_dir=$TFDS_DATA_DIR)

Variants, each with its paper's recipe:
  luong     Luong, Pham & Manning 2015: 4 layers of 1000 LSTM cells, 1000-dim embeddings, global attention
            with input feeding, dropout 0.2, SGD at learning rate 1 halved every epoch after the fifth,
            12 epochs, batch 128, gradients clipped at norm 5, sentences up to 50 words.
  bahdanau  Bahdanau, Cho & Bengio 2015 (RNNsearch-50; their pair was English-French): bidirectional
            GRU encoder and GRU decoder of 1000 units, 620-dim embeddings, Adadelta (rho 0.95, eps 1e-6),
            batch 80, sentences up to 50 words.
  none      their baseline RNNencdec-50 (Cho et al. 2014): the same without attention.
Where we differ: both papers used word vocabularies (30,000-50,000 words, the rest <unk>); here one
joint SentencePiece model of 32,000 pieces (as flax/examples wmt), so no word is unknown, and the
length limit is 64 pieces rather than 50 words. Bahdanau's maxout deep output is a tanh layer (see
deepzoo/models/seq2seq.py). Append ",smoke" for a few tiny steps (needs the dataset, or tfds mock data).
"""
import ml_collections

from configs import common
from deepzoo.config import parse_arg

TRAIN_PAIRS = 4_508_785          # wmt14_translate/de-en train split (TFDS 1.0.0)

# Each paper's model is registered by name (deepzoo/models/seq2seq.py): layers, cells, widths, attention.
RECIPES = {
    "luong": dict(
        model="seq2seq_luong",     # 4 layers of 1000 LSTM cells, 1000-dim embeddings, global attention, input feeding
        kwargs=dict(dropout_rate=0.2), batch_size=128, epochs=12, grad_clip_norm=5.0,
        optimizer=dict(name="sgd", learning_rate=1.0, momentum=0.0, schedule="step", decay_factor=0.5)),
    "bahdanau": dict(
        model="seq2seq_bahdanau",  # bidirectional GRU encoder, GRU decoder, 1000 units, 620-dim embeddings
        kwargs={}, batch_size=80, epochs=5, grad_clip_norm=1.0,
        optimizer=dict(name="adadelta", learning_rate=1.0, rho=0.95, eps=1e-6, schedule="constant")),
    "none": dict(
        model="seq2seq",           # RNNencdec: the same without attention, a one-directional encoder
        kwargs={}, batch_size=80, epochs=5, grad_clip_norm=1.0,
        optimizer=dict(name="adadelta", learning_rate=1.0, rho=0.95, eps=1e-6, schedule="constant")),
}


def get_config(arg: str | None = None):
    name, options = parse_arg(arg, variants=tuple(RECIPES), options=("smoke",), default="luong")
    recipe = RECIPES[name]
    config = common.supervised()

    config.dataset.name = "wmt14_translate/de-en"
    config.dataset.eval_split = "validation"     # newstest2013; "test" is newstest2014
    config.dataset.cache = False                 # 4.5M pairs: tokenised batch by batch
    config.dataset.prefetch = 8
    config.dataset.threads = 8
    config.dataset.languages = ("en", "de")
    config.dataset.vocab_size = 32000
    config.dataset.max_length = 64

    config.model = ml_collections.ConfigDict()
    config.model.name = recipe["model"]
    config.model.kwargs = ml_collections.ConfigDict(dict(vocab_size=32000, dtype="bfloat16", **recipe["kwargs"]))

    config.task = ml_collections.ConfigDict()
    config.task.name = "seq2seq"
    config.task.kwargs = ml_collections.ConfigDict(dict(label_smoothing=0.0, eval_decode_length=0))

    config.batch_size = recipe["batch_size"]
    steps_per_epoch = TRAIN_PAIRS // config.batch_size
    config.num_train_steps = recipe["epochs"] * steps_per_epoch
    config.optimizer = ml_collections.ConfigDict(dict(warmup_steps=0, weight_decay=0.0,
                                                      grad_clip_norm=recipe["grad_clip_norm"],
                                                      **recipe["optimizer"]))
    if name == "luong":  # halve every epoch after the fifth
        config.optimizer.decay_every_steps = steps_per_epoch
        config.optimizer.decay_begin_steps = 5 * steps_per_epoch

    config.eval_batch_size = 512
    config.log_every_steps = 200
    config.eval_every_steps = 10_000
    config.checkpoint_every_steps = 5_000
    config.reference = {"luong": "Luong et al. 2015, Table 1: 18.1 BLEU on newstest2014 for global attention "
                                 "with input feeding; 20.9 for their best single model",
                        "bahdanau": "Bahdanau et al. 2015: 26.75 BLEU on WMT'14 En-Fr (RNNsearch-50)",
                        "none": "Bahdanau et al. 2015: 17.82 BLEU on WMT'14 En-Fr (RNNencdec-50)"}[name]

    if "smoke" in options:
        config.num_train_steps, config.log_every_steps, config.eval_every_steps = 2, 1, 2
        config.checkpoint_every_steps = 2
        config.batch_size, config.eval_batch_size = 8, 8
        config.dataset.update(vocab_size=64, max_length=16, prefetch=0, threads=1)
        config.model.kwargs.update(vocab_size=64, features=8, embed_dim=8, dtype="float32")
        config.optimizer.decay_every_steps = 1
        config.optimizer.decay_begin_steps = 1
    return config

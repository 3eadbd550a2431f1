"""Google's BERT checkpoints as the Hugging Face hub holds them (bert-base-uncased, bert-large-uncased, ...) ->
deepzoo.models.bert: bert.py's layout with the LayerNorm parameters named gamma and beta, as pytorch-pretrained-bert
named them when it converted the TensorFlow checkpoints. A second module because a family module registers one
converter per model name."""
import functools

from deepzoo.weights import bert
from deepzoo.weights.rules import Converter

CONVERTERS = {name: Converter(functools.partial(bert.rules, norm=("gamma", "beta")),
                              "pytorch_pretrained_bert.BertForPreTraining", bert.IGNORE) for name in bert.NAMES}

"""Hugging Face's BertForMaskedLM -> deepzoo.models.bert (bert_base, bert_large): bert.py's layout without the pooler
(BertForMaskedLM builds its BertModel with add_pooling_layer=False) and without the next-sentence head. Import starts
bert/pooler from model.init and warns (Converter.absent): the masked-LM logits do not depend on it, the pooled output
of `encode` does. Export leaves it out. The decoder's weight and bias are tied copies of the word embeddings and of
cls.predictions.bias, read and dropped as in bert.py. A second module because a family module registers one converter
per model name."""
import functools

from deepzoo.weights import bert
from deepzoo.weights.rules import Converter

CONVERTERS = {name: Converter(functools.partial(bert.rules, pooler=False), "transformers.BertForMaskedLM",
                              (*bert.TIED, *(f"bert.{b}" for b in bert.BUFFERS)), absent=("bert/pooler",))
              for name in bert.NAMES}

"""Hugging Face's BertModel layout -> deepzoo.models.bert (bert_base, bert_large): bert.py's keys without "bert."
("embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight", "pooler.dense.weight"), the
encoder and its pooler, as a BertModel's save_pretrained writes them. Such a file has no masked-LM head (transform,
transform_norm, output_bias): import starts it from model.init and warns (Converter.absent), export leaves it out.
A second module because a family module registers one converter per model name."""
import functools

from deepzoo.weights import bert
from deepzoo.weights.rules import Converter

CONVERTERS = {name: Converter(functools.partial(bert.rules, prefix="", head=False), "transformers.BertModel",
                              bert.BUFFERS, absent=bert.HEAD) for name in bert.NAMES}

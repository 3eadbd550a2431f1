"""Hugging Face's GPT2Model layout -> deepzoo.models.gpt: the keys of gpt2.py without "transformer."
("h.0.attn.c_attn.weight", "wte.weight"), as the hub's gpt2, gpt2-medium, gpt2-large and gpt2-xl files hold them.
A second module because a family module registers one converter per model name."""
import functools

from deepzoo.weights import gpt2
from deepzoo.weights.rules import Converter

CONVERTERS = {name: Converter(functools.partial(gpt2.rules, prefix=""), "transformers.GPT2Model", gpt2.IGNORE)
              for name in gpt2.NAMES}

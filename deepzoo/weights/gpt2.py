"""Converter of gpt2 checkpoints: being written (issue 25)."""
CONVERTERS = {}

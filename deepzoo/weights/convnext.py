"""Converter of convnext checkpoints: being written (issue 25)."""
CONVERTERS = {}

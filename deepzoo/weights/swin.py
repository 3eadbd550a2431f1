"""Converter of swin checkpoints: being written (issue 25)."""
CONVERTERS = {}

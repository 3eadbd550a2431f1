"""Converter of alexnet checkpoints: being written (issue 25)."""
CONVERTERS = {}

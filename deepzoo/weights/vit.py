"""Converter of vit checkpoints: being written (issue 25)."""
CONVERTERS = {}

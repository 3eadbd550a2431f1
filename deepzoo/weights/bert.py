"""Converter of bert checkpoints: being written (issue 25)."""
CONVERTERS = {}

"""Converter of vgg checkpoints: being written (issue 25)."""
CONVERTERS = {}

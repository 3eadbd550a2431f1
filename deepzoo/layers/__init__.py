"""Shared building blocks (attention, positional encodings, norms, conv blocks)."""

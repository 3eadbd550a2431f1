"""Measuring models: parameter and multiply-accumulate counts."""

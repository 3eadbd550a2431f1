"""Figures: PNGs a person looks at."""

"""Positions for the Transformers: the 2017 paper's sinusoids, learned tables (GPT, BERT), and the check
that a sequence fits the table.

    PE(pos, 2i)     = sin(pos / 10000^(2i / d))        (Vaswani et al. 2017, section 3.5)
    PE(pos, 2i + 1) = cos(pos / 10000^(2i / d))
"""
import numpy as np
import jax.numpy as jnp


def sinusoidal_positions(length: int, d: int):
    """(length, d) float32 table of the paper's sinusoids, sines and cosines interleaved as in its formula."""
    if d % 2:
        raise ValueError(f"sinusoidal positions need an even width; got d={d}.")
    pos = np.arange(length, dtype=np.float64)[:, None]
    freq = 10000.0 ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    table = np.zeros((length, d))
    table[:, 0::2], table[:, 1::2] = np.sin(pos * freq), np.cos(pos * freq)
    return jnp.asarray(table, jnp.float32)


def check_length(length: int, max_length: int, model: str, what: str = "tokens"):
    """A sequence longer than the position table gets an error that names both lengths and the fix."""
    if length > max_length:
        raise ValueError(f"{model}: {what} of length {length} exceed the {max_length} positions the model "
                         f"has (max_length={max_length}); cut or split the sequences, or build the model with "
                         f"a larger max_length (learned position tables then need training anew).")

"""Input checks that turn a confusing failure deep inside a network into an error naming the fix."""
import jax
import jax.numpy as jnp
import numpy as np


def check_images(x, model: str, channels: int | None = None):
    """Images must be a batch of (height, width, channels); says what came instead."""
    if x.ndim != 4:
        hint = " (add a batch axis: x[None])" if x.ndim == 3 else ""
        raise ValueError(f"{model} expects images of shape (batch, height, width, channels); "
                         f"got shape {tuple(x.shape)}{hint}.")
    if channels is not None and x.shape[-1] != channels:
        raise ValueError(f"{model} expects {channels} input channel(s) (shape (batch, height, width, "
                         f"{channels})); got shape {tuple(x.shape)}.")


def check_tokens(tokens, model: str, vocab_size: int, what: str = "tokens"):
    """Token ids must be a non-empty (batch, length) integer array inside the vocabulary. The range is
    checked when the values are known (outside jit); under jit an id outside [0, vocab_size) would
    silently embed as NaN, so data pipelines check it too."""
    if tokens.ndim != 2:
        hint = " (add a batch axis: x[None])" if tokens.ndim == 1 else ""
        raise ValueError(f"{model} expects {what} of shape (batch, length); got shape "
                         f"{tuple(tokens.shape)}{hint}.")
    if not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise ValueError(f"{model} expects integer token ids for {what}; got dtype {tokens.dtype}.")
    if tokens.shape[1] == 0:
        raise ValueError(f"{model} got empty {what} (length 0); every sequence needs at least one token "
                         f"(EOS).")
    if isinstance(tokens, (np.ndarray, jax.Array)) and not isinstance(tokens, jax.core.Tracer) and tokens.size:
        values = np.asarray(tokens)  # numpy: no device op, so this also works on constants under jit
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(f"{model}: {what} hold ids in [{low}, {high}] but the vocabulary has "
                             f"{vocab_size} tokens (ids 0..{vocab_size - 1}); set vocab_size to the "
                             f"tokeniser's size.")

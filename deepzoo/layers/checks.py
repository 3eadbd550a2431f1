"""Input checks that turn a confusing failure deep inside a network into an error naming the fix."""


def check_images(x, model: str, channels: int | None = None):
    """Images must be a batch of (height, width, channels); says what came instead."""
    if x.ndim != 4:
        hint = " (add a batch axis: x[None])" if x.ndim == 3 else ""
        raise ValueError(f"{model} expects images of shape (batch, height, width, channels); "
                         f"got shape {tuple(x.shape)}{hint}.")
    if channels is not None and x.shape[-1] != channels:
        raise ValueError(f"{model} expects {channels} input channel(s) (shape (batch, height, width, "
                         f"{channels})); got shape {tuple(x.shape)}.")

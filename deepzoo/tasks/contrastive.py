"""SimCLR's contrastive objective (Chen et al. 2020): two augmented views of every image, and NT-Xent.

    z = the model's "projection" of 2N views (view i and i + N come from the same image), normalised
    l(i) = -log exp(sim(z_i, z_pos(i)) / tau) / sum_{k != i} exp(sim(z_i, z_k) / tau)       (their eq. 1)
    loss = mean over the 2N views;  sim = cosine similarity;  tau = temperature (0.5 here, their CIFAR value)
The views are drawn on the device from the step's key: a random crop of 50-100% of the area (aspect
3/4 to 4/3) resized back to the full size, then random brightness and contrast (the colour jitter of
a grey image). Under a data-parallel mesh the similarity matrix spans the whole global batch, so every
image is contrasted with every other, on any number of devices. Metrics: the loss and the accuracy of
picking the positive among the 2N - 1 candidates; evaluation draws its views from a fixed key.
"""
import dataclasses

import jax
import jax.numpy as jnp

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model


def nt_xent(z1, z2, temperature: float):
    """-> (per-view losses (2N,), per-view positive-found (2N,)) for projections z1, z2 of (N, d)."""
    z = jnp.concatenate([z1, z2]).astype(jnp.float32)
    z = z / jnp.linalg.norm(z, axis=-1, keepdims=True).clip(1e-12)
    n = z1.shape[0]
    logits = jnp.where(jnp.eye(2 * n, dtype=bool), -jnp.inf, z @ z.T / temperature)
    positive = jnp.concatenate([jnp.arange(n, 2 * n), jnp.arange(n)])
    losses = jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, positive[:, None], axis=-1)[:, 0]
    return losses, jnp.argmax(logits, axis=-1) == positive


def _crop_and_resize(image, key, min_area: float, aspect: float):
    height, width = image.shape[:2]
    k_area, k_ratio, k_y, k_x = jax.random.split(key, 4)
    area = jax.random.uniform(k_area, minval=min_area, maxval=1.0) * height * width
    ratio = jnp.exp(jax.random.uniform(k_ratio, minval=-jnp.log(aspect), maxval=jnp.log(aspect)))
    crop_h = jnp.clip(jnp.sqrt(area / ratio), 1.0, height)
    crop_w = jnp.clip(jnp.sqrt(area * ratio), 1.0, width)
    top = jax.random.uniform(k_y) * (height - crop_h)
    left = jax.random.uniform(k_x) * (width - crop_w)
    scale = jnp.array([height / crop_h, width / crop_w])
    # output pixel p reads input (p - translation) / scale: the crop's corner lands on (0, 0)
    return jax.image.scale_and_translate(image, image.shape, (0, 1), scale, -jnp.array([top, left]) * scale,
                                         "linear")


def augment(images, key, *, min_area: float = 0.5, aspect: float = 4 / 3, brightness: float = 0.2,
            contrast: float = 0.4):
    """One random view of each image (B, H, W, C) in [0, 1]: a crop of min_area..1 of the area with an
    aspect ratio in 1/aspect..aspect, resized back, then brightness and contrast jitter."""
    k_crop, k_bright, k_contrast = jax.random.split(key, 3)
    b = images.shape[0]
    views = jax.vmap(_crop_and_resize, in_axes=(0, 0, None, None))(images, jax.random.split(k_crop, b), min_area,
                                                                     aspect)
    shape = (b,) + (1,) * (images.ndim - 1)
    mean = jnp.mean(views, axis=tuple(range(1, images.ndim)), keepdims=True)
    c = jax.random.uniform(k_contrast, shape, minval=1 - contrast, maxval=1 + contrast)
    shift = jax.random.uniform(k_bright, shape, minval=-brightness, maxval=brightness)
    return jnp.clip((views - mean) * c + mean + shift, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class Contrastive:
    """SimCLR's NT-Xent loss (Chen et al. 2020) on two augmented views of each image of
    {"input": (B, H, W, C) in [0, 1]}; metrics loss and positive_accuracy (module docstring)."""
    temperature: float = 0.5
    min_area: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.4
    eval_seed: int = 0

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["input"],)."""
        return (batch["input"],)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, unless the model returns {"projection": ...}."""
        if not isinstance(output_shape, dict) or "projection" not in output_shape:
            raise ValueError(f"task contrastive needs a model that returns {{'projection': ...}} (e.g. simclr_mnist); "
                             f"{model_name} returns {output_shape}.")

    def _metrics(self, model, params, model_state, x, key, weights, train, rngs=None):
        k1, k2 = jax.random.split(key)
        views = jnp.concatenate([augment(x, k, min_area=self.min_area, brightness=self.brightness,
                                         contrast=self.contrast) for k in (k1, k2)])
        # both views in one batch: BatchNorm sees them together, as in SimCLR
        out, model_state = apply_model(model, params, model_state, (views,), train=train, rngs=rngs)
        n = x.shape[0]
        losses, found = nt_xent(out["projection"][:n], out["projection"][n:], self.temperature)
        weights = jnp.concatenate([weights, weights])
        return jnp.mean(losses), model_state, {"loss": metrics_lib.pair(losses, weights),
                                                "positive_accuracy": metrics_lib.pair(found, weights)}

    def loss(self, model, params, model_state, batch, rngs):
        """(mean NT-Xent over the batch, (new model state, metrics)) of one training batch; metrics as in evaluate. The
        views are drawn from rngs["dropout"]."""
        x = batch["input"]
        loss, model_state, metrics = self._metrics(model, params, model_state, x, jax.random.fold_in(rngs["dropout"], 1),
                                                   jnp.ones(x.shape[0]), True, rngs)
        return loss, (model_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch` (batch["mask"]): loss and positive_accuracy, the
        views drawn from eval_seed."""
        return self._metrics(model, params, model_state, batch["input"], jax.random.key(self.eval_seed),
                             batch["mask"], False)[2]

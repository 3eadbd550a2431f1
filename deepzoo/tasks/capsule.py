"""The capsule network's loss (Sabour, Frosst & Hinton 2017, equation 4 and section 4.1): a margin loss on the
lengths of the class capsules, plus the reconstruction from the true class's capsule, scaled down.

    L_k = T_k max(0, m+ - |v_k|)^2 + lambda (1 - T_k) max(0, |v_k| - m-)^2,   m+ 0.9, m- 0.1, lambda 0.5
    loss = sum_k L_k + reconstruction_weight sum_pixels (reconstruction - image)^2,   weight 0.0005
In training the decoder reads the capsule of the true label; in evaluation, the longest capsule (the prediction).
Metrics: loss, margin (the margin loss alone), reconstruction (squared error per image) and accuracy.

Several objects per image (the paper's MultiMNIST): `label_key` names labels (B, K), every labelled class is
present in the margin loss, each object's reconstruction (B, K, ...) is compared with its own image (the batch
keys `targets`, e.g. "first" and "second"), and an image counts as correct when the K longest capsules are exactly
its K classes.
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model
from deepzoo.tasks.reconstruction import check_unit_range


@dataclasses.dataclass(frozen=True)
class CapsuleLoss:
    """Margin loss + reconstruction_weight x reconstruction error on {"input", "label"} batches (module docstring)."""
    m_plus: float = 0.9
    m_minus: float = 0.1
    down_weight: float = 0.5             # lambda: absent classes weigh less, so early training does not shrink all capsules
    reconstruction_weight: float = 0.0005
    label_key: str = "label"             # (B,) one object, or (B, K) several
    targets: tuple[str, ...] = ("input",)    # what each object's reconstruction should equal, one key per object

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (batch["input"],)."""
        return (batch["input"],)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, when the model gives no capsule lengths or not one per class."""
        if not isinstance(output_shape, dict) or "lengths" not in output_shape:
            raise ValueError(f"the capsule task needs a capsule network (outputs 'lengths'); {model_name} gives "
                             f"{output_shape}.")
        if source.num_classes and output_shape["lengths"][-1] != source.num_classes:
            raise ValueError(f"model {model_name} has {output_shape['lengths'][-1]} class capsules but the dataset "
                             f"has {source.num_classes} classes: set --config.model.kwargs.num_classes="
                             f"{source.num_classes}.")
        example = source.read(np.arange(min(len(source), 256)))
        missing = [key for key in (self.label_key, *self.targets) if key not in example]
        if missing:
            raise ValueError(f"the capsule task reads {missing} but the dataset gives {sorted(example)}: set "
                             f"--config.task.kwargs.label_key and targets to keys it has.")
        objects = 1 if example[self.label_key].ndim == 1 else example[self.label_key].shape[1]
        if objects != len(self.targets):
            raise ValueError(f"{objects} labelled objects per image but {len(self.targets)} reconstruction targets "
                             f"{list(self.targets)}: name one target image per object (task.kwargs.targets).")
        for key in self.targets:
            check_unit_range(example[key], f"the capsule decoder's target '{key}'")

    def margin(self, lengths, labels):
        """Equation 4, summed over the classes: (B,). labels (B,) or (B, K): the classes present."""
        present = jax.nn.one_hot(labels, lengths.shape[-1])
        if labels.ndim == 2:
            present = jnp.max(present, axis=1)
        return jnp.sum(present * jnp.maximum(0.0, self.m_plus - lengths) ** 2
                       + self.down_weight * (1 - present) * jnp.maximum(0.0, lengths - self.m_minus) ** 2, -1)

    def _per_example(self, out, batch):
        lengths, labels = out["lengths"].astype(jnp.float32), batch[self.label_key]
        margin = self.margin(lengths, labels)
        errors = jnp.zeros_like(margin)
        if "reconstruction" in out:
            pictures = out["reconstruction"].astype(jnp.float32)
            if labels.ndim == 1:
                pictures = pictures[:, None]
            for k, key in enumerate(self.targets):             # each object against its own image
                x = batch[key].astype(jnp.float32)
                errors += jnp.sum((pictures[:, k].reshape(x.shape) - x) ** 2, axis=tuple(range(1, x.ndim)))
        if labels.ndim == 1:
            correct = jnp.argmax(lengths, -1) == labels
        else:       # the K longest capsules are the K classes
            top = jax.lax.top_k(lengths, labels.shape[1])[1]
            correct = jnp.all(jnp.sort(top, -1) == jnp.sort(labels, -1), -1)
        return margin + self.reconstruction_weight * errors, {"margin": margin, "reconstruction": errors,
                                                              "accuracy": correct}

    def loss(self, model, params, model_state, batch, rngs):
        """(mean loss over the batch, (new model state, metrics)); the decoder reads the true class's capsule."""
        out, new_state = apply_model(model, params, model_state, self.inputs(batch), train=True, rngs=rngs,
                                     labels=batch[self.label_key])
        losses, parts = self._per_example(out, batch)
        metrics = {"loss": metrics_lib.pair(losses, 1.0), **{k: metrics_lib.pair(v, 1.0) for k, v in parts.items()}}
        return jnp.mean(losses), (new_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real examples of `batch`; the decoder reads the predicted class's capsule."""
        out, _ = apply_model(model, params, model_state, self.inputs(batch), train=False)
        losses, parts = self._per_example(out, batch)
        mask = batch["mask"]
        return {"loss": metrics_lib.pair(losses, mask), **{k: metrics_lib.pair(v, mask) for k, v in parts.items()}}

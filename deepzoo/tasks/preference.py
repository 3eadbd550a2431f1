"""Learning a reward from pairwise preferences (Bradley & Terry 1952; the reward model of Christiano et al. 2017,
Stiennon et al. 2020 and Ouyang et al. 2022, step 2).

    batch {"chosen": (B, T), "rejected": (B, T)}: two token sequences per prompt, the preferred one first
    P(chosen preferred) = sigmoid(r(chosen) - r(rejected));   loss = -log of it = softplus(r(rejected) - r(chosen))
The model maps a batch of sequences to one reward each, (B,). Metrics: loss, accuracy (the chosen one scored
higher) and the mean margin r(chosen) - r(rejected).
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from deepzoo.tasks import metrics as metrics_lib
from deepzoo.tasks.apply import apply_model


@dataclasses.dataclass(frozen=True)
class Preference:
    """The Bradley-Terry loss of a reward model on preference pairs (module docstring)."""

    def inputs(self, batch) -> tuple:
        """The model's positional inputs: (chosen and rejected stacked on the batch axis,)."""
        return (jnp.concatenate([batch["chosen"], batch["rejected"]]),)

    def validate(self, output_shape, source, model_name):
        """Fails early, with the fix, unless the data holds pairs and the model gives one reward per sequence."""
        example = source.read(np.arange(1))
        if not {"chosen", "rejected"} <= set(example):
            raise ValueError(f"the preference task needs pairs {{'chosen', 'rejected'}}; the data has {sorted(example)}: "
                             f"use a dataset such as sort_preferences.")
        if len(output_shape) != 1:
            raise ValueError(f"model {model_name} gives outputs of shape {tuple(output_shape)}, not one reward per "
                             f"sequence: use a reward model such as gpt_sort_reward.")

    def _scores(self, model, params, model_state, batch, train, rngs=None):
        rewards, model_state = apply_model(model, params, model_state, self.inputs(batch), train=train, rngs=rngs)
        chosen, rejected = jnp.split(rewards.astype(jnp.float32), 2)
        margin = chosen - rejected
        return jax.nn.softplus(-margin), margin, model_state

    def loss(self, model, params, model_state, batch, rngs):
        """(mean Bradley-Terry loss, (model state, metrics)) of one batch of pairs."""
        losses, margin, model_state = self._scores(model, params, model_state, batch, True, rngs)
        metrics = {"loss": metrics_lib.pair(losses, 1.0), "accuracy": metrics_lib.pair(margin > 0, 1.0),
                   "margin": metrics_lib.pair(margin, 1.0)}
        return jnp.mean(losses), (model_state, metrics)

    def evaluate(self, model, params, model_state, batch):
        """{metric: (sum, count)} over the real pairs of `batch` (batch["mask"])."""
        losses, margin, _ = self._scores(model, params, model_state, batch, False)
        mask = batch["mask"]
        return {"loss": metrics_lib.pair(losses, mask), "accuracy": metrics_lib.pair(margin > 0, mask),
                "margin": metrics_lib.pair(margin, mask)}

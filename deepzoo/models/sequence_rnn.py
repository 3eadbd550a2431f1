"""Recurrent nets over real-valued sequences: the baselines of the memory and reservoir networks.

    x (B, T, num_inputs) -> [cell scanned over time] x num_layers -> h (B, T, features)
                         -> Dense: y (B, T, num_outputs), or from h_T only: (B, num_outputs) with last_only

`lstm_copy` is the LSTM the neural Turing machine is set against on the copy task (Graves, Wayne & Danihelka
2014), sized to the NTM's parameters; `gru_classifier` reads a spike train and names its class at the end,
the liquid state machine's gradient-trained rival (experiments/lsm.py).
"""
import functools

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers.recurrent import StackedRNN


class SequenceRNN(nn.Module):
    """(B, T, num_inputs) -> (B, T, num_outputs), or (B, num_outputs) with last_only (module docstring)."""
    num_outputs: int = 8
    features: int = 120
    num_layers: int = 1
    cell: str = "lstm"
    last_only: bool = False

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        _, h = StackedRNN(self.cell, self.features, self.num_layers)(x.astype(jnp.float32))   # (B, T, features)
        return nn.Dense(self.num_outputs)(h[:, -1] if self.last_only else h)


MODELS = {
    # An LSTM of the NTM's size (63,368 parameters against ntm_copy's 62,536): what the memory adds, at equal
    # parameters. (The paper's own baseline was larger: 3 layers of 256 units, 1.35M parameters.)
    "lstm_copy": (SequenceRNN, (41, 9)),
    # 4 spike trains of 200 ms in 1 ms bins -> one of 4 classes.
    "gru_classifier": (functools.partial(SequenceRNN, num_outputs=4, features=32, cell="gru", last_only=True),
                       (200, 4)),
}

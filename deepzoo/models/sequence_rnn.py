"""Recurrent nets over real-valued sequences: the baselines of the memory and reservoir networks.

    x (B, T, num_inputs) -> [cell scanned over time] x num_layers -> h (B, T, features) -> Dense -> (B, T, num_outputs)

`lstm_copy` is the LSTM the neural Turing machine is set against on the copy task (Graves, Wayne & Danihelka
2014), sized to the NTM's parameters; `gru_spikes` reads spike trains, the liquid state machine's
gradient-trained rival (experiments/lsm.py), of about its cost per step.
"""
import functools

import flax.linen as nn
import jax.numpy as jnp

from deepzoo.layers.recurrent import StackedRNN


class SequenceRNN(nn.Module):
    """(B, T, num_inputs) -> (B, T, num_outputs) (module docstring)."""
    num_outputs: int = 8
    features: int = 120
    num_layers: int = 1
    cell: str = "lstm"

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        _, h = StackedRNN(self.cell, self.features, self.num_layers)(x.astype(jnp.float32))   # (B, T, features)
        return nn.Dense(self.num_outputs)(h)


MODELS = {
    # An LSTM of the NTM's size (63,368 parameters against ntm_copy's 62,536): what the memory adds, at equal
    # parameters. (The paper's own baseline was larger: 3 layers of 256 units, 1.35M parameters.)
    "lstm_copy": (SequenceRNN, (41, 9)),
    # 4 spike trains of 200 ms in 1 ms steps; 64 GRU units: 13k multiply-adds a step, the liquid's 135 x 135 18k.
    "gru_spikes": (functools.partial(SequenceRNN, num_outputs=5, features=64, cell="gru"), (200, 4)),
}

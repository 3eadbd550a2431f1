"""Multilayer perceptron, and the one-hidden-layer network of the universal approximation theorem.

    x -> flatten -> [Dense(width) -> (BatchNorm) -> activation -> Dropout] x depth -> Dense(num_outputs)
"""
import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

ACTIVATIONS = {
    "relu": nn.relu,
    "gelu": nn.gelu,
    "tanh": nn.tanh,
    "sigmoid": nn.sigmoid,
    "elu": nn.elu,
    "silu": nn.silu,
    "leaky_relu": nn.leaky_relu,
    "identity": lambda x: x,
}


def activation(name: str):
    """The function ACTIVATIONS[name]; an unknown name raises ValueError listing the known ones."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]


class MLP(nn.Module):
    """Multilayer perceptron (Rumelhart, Hinton & Williams 1986): inputs (B, ...), flattened -> outputs
    (B, num_outputs). `depth` hidden layers of `width` units, each Dense -> (BatchNorm) -> activation
    -> Dropout."""
    depth: int = 2              # number of hidden layers
    width: int = 100            # units per hidden layer
    num_outputs: int = 10       # classes, or the dimension of a regression target
    activation: str = "relu"
    dropout_rate: float = 0.0
    batch_norm: bool = False    # normalise before the activation (Ioffe & Szegedy 2015)
    batch_norm_momentum: float = 0.9   # running-statistics decay (Flax's default is 0.99)
    dtype: Any = jnp.float32        # compute dtype (bfloat16 for mixed precision)
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, *, train: bool = False):
        act = activation(self.activation)
        dense = functools.partial(nn.Dense, dtype=self.dtype, param_dtype=self.param_dtype)
        x = x.reshape(x.shape[0], -1).astype(self.dtype)
        for i in range(self.depth):
            x = dense(self.width, use_bias=not self.batch_norm, name=f"hidden_{i}")(x)  # BN has a bias
            if self.batch_norm:
                x = nn.BatchNorm(use_running_average=not train, momentum=self.batch_norm_momentum, dtype=self.dtype,
                                 param_dtype=self.param_dtype, name=f"norm_{i}")(x)
            x = act(x)
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return dense(self.num_outputs, name="output")(x)


# Universal approximation theorem: one hidden layer of `width` units approximates any continuous
# function on a compact set (Cybenko 1989, Hornik 1991); 1-D in, 1-D out, so that the fit can be
# plotted (experiments/universal_approximation.py).
ShallowMLP = functools.partial(MLP, depth=1, num_outputs=1, activation="sigmoid")


MODELS = {
    "mlp": (MLP, (40,)),                # MNIST-1D
    "shallow_mlp": (ShallowMLP, (1,)),  # a function of one variable
}

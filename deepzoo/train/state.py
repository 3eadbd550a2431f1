"""TrainState: everything a checkpoint holds. The data position is `step` (see data/pipeline.py)."""
from typing import Any

import flax
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class TrainState:
    """A model in training, what a supervised run's checkpoint holds: step (which also fixes the data
    position), params, opt_state ({player: state} for a game's players), model_state and ema_params."""
    step: jax.Array
    params: Any
    opt_state: Any
    model_state: dict           # mutable collections, e.g. {"batch_stats": ...}; {} when none
    ema_params: Any = None      # exponential moving average of params; None when disabled


def create_train_state(model, tx, example_inputs, *, seed: int, ema: bool = False, players=()) -> TrainState:
    """Initialises params from `seed` (pure: call it under jit with out_shardings to place them).
    `example_inputs`: the model's input, or a tuple of its positional inputs (task.inputs(batch)).
    `players` (a game's task.players): each player's parameters get their own optimizer state."""
    if not isinstance(example_inputs, tuple):
        example_inputs = (example_inputs,)
    # The RBG generator compiles an initialiser 4-5x faster than threefry on XLA:CPU (~4 s instead of
    # ~20 s for a small ResNet): every weight's draw is otherwise its own unrolled hash. Initial values
    # need only be reproducible, which RBG is for a fixed program; dropout keeps threefry (step.py).
    params_key, dropout_key = jax.random.split(jax.random.key(seed, impl="rbg"))
    variables = model.init({"params": params_key, "dropout": dropout_key}, *example_inputs, train=False)
    variables = dict(variables)
    params = variables.pop("params")
    opt_state = {p: tx.init(params[p]) for p in players} if players else tx.init(params)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state,
                      model_state=variables, ema_params=params if ema else None)

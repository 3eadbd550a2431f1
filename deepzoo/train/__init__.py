"""Training: the generic step, the state, the one run loop and its programs, checkpoints, writers."""
from deepzoo.train.loop import NonFiniteError, Stopped
from deepzoo.train.state import TrainState, create_train_state
from deepzoo.train.step import make_eval_step, make_train_step
from deepzoo.train.trainer import train_and_evaluate

__all__ = ["NonFiniteError", "Stopped", "TrainState", "create_train_state", "make_eval_step", "make_train_step",
           "train_and_evaluate"]

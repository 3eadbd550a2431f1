"""Training: the generic step, the state, the trainer (train_and_evaluate), checkpoints, writers."""
from deepzoo.train.state import TrainState, create_train_state
from deepzoo.train.step import make_eval_step, make_train_step
from deepzoo.train.trainer import NonFiniteError, train_and_evaluate

__all__ = ["NonFiniteError", "TrainState", "create_train_state", "make_eval_step", "make_train_step",
           "train_and_evaluate"]

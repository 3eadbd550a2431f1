"""What is learned: a task gives the loss (with metrics) for training and the metrics for evaluation.

    loss(model, params, model_state, batch, rngs) -> (scalar, (new_model_state, metrics))
    evaluate(model, params, model_state, batch) -> metrics        # batch["mask"] marks real examples
Metrics are {name: (sum, count)} (see metrics.py).
"""
from deepzoo.tasks.classification import Classification
from deepzoo.tasks.regression import Regression
from deepzoo.registry import lookup

_TASKS = {"classification": Classification, "regression": Regression}


def names() -> list[str]:
    return sorted(_TASKS)


def get(name: str, **kwargs):
    return lookup("task", name, _TASKS)(**kwargs)

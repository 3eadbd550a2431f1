"""Running a model inside a task: the one place that knows about Flax's mutable collections."""


def apply_model(model, params, model_state, inputs: tuple, *, train, rngs=None, **kwargs):
    """Runs `model(*inputs)`; in training also returns its updated mutable collections (e.g.
    batch_stats). `inputs` is what the task's `inputs(batch)` returns; kwargs go to the model."""
    variables = {"params": params, **model_state}
    if train:
        return model.apply(variables, *inputs, train=True, rngs=rngs, mutable=list(model_state), **kwargs)
    return model.apply(variables, *inputs, train=False, **kwargs), model_state

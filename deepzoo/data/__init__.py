"""The data interface: named splits as sources, and deterministic, resumable host-local batches.

    batches = data.get("mnist1d", "train", global_batch_size=128, seed=0, start_step=step)
or in two steps, keeping the source (its size, its classes):
    source = data.load("mnist1d", "train")                       # prepared offline on first use
    batches = data.train_batches(source, global_batch_size=128, seed=0, start_step=step)
    for batch in data.eval_batches(data.load("mnist1d", "test"), global_batch_size=1000): ...
"""
from deepzoo.data.pipeline import eval_batches, train_batches
from deepzoo.data.sources import ArraySource, RecordSource, load, resolve_data_dir



def get(name: str, split: str, *, global_batch_size: int, seed: int = 0, start_step: int = 0,
        num_steps: int | None = None, data_dir: str | None = None, cache: bool = True, prefetch: int = 0):
    """This process's training batches of dataset `name`, split `split`, from `start_step` on: the
    same batches for the same (seed, step), however often the run was interrupted."""
    return train_batches(load(name, split, data_dir=data_dir, cache=cache),
                         global_batch_size=global_batch_size, seed=seed, start_step=start_step,
                         num_steps=num_steps, prefetch=prefetch)


__all__ = ["ArraySource", "RecordSource", "eval_batches", "get", "load", "resolve_data_dir", "train_batches"]

"""The data interface: named splits as sources, and deterministic, resumable host-local batches.

    batches = data.get("mnist1d", "train", global_batch_size=128, seed=0, start_step=step)
or in two steps, keeping the source (its size, its classes):
    source = data.load("mnist1d", "train")                       # prepared offline on first use
    batches = data.train_batches(source, global_batch_size=128, seed=0, start_step=step)
    for batch in data.eval_batches(data.load("mnist1d", "test"), global_batch_size=1000): ...
"""
from deepzoo.data.pipeline import TrainOrder, eval_batches, train_batches
from deepzoo.data.sources import (ArraySource, RecordSource, dataset_kind, load, resolve_data_dir, shared_reads,
                                  texts)



def get(name: str, split: str, *, global_batch_size: int, seed: int = 0, start_step: int = 0,
        num_steps: int | None = None, data_dir: str | None = None, cache: bool = True, prefetch: int = 0,
        **options):
    """This process's training batches of dataset `name`, split `split`, from `start_step` on: the
    same batches for the same (seed, step), however often the run was interrupted. `options` go to
    `load` (max_length, vocab_size, languages for text; image_size, augment for images)."""
    return train_batches(load(name, split, data_dir=data_dir, cache=cache, **options),
                         global_batch_size=global_batch_size, seed=seed, start_step=start_step,
                         num_steps=num_steps, prefetch=prefetch)


__all__ = ["ArraySource", "RecordSource", "TrainOrder", "dataset_kind", "eval_batches", "get", "load", "resolve_data_dir",
           "shared_reads", "texts", "train_batches"]

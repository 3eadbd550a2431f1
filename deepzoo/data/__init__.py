"""The data interface: named splits as sources, and deterministic, resumable host-local batches.

    source = data.load("mnist1d", "train")                       # prepared offline on first use
    batches = data.train_batches(source, global_batch_size=128, seed=0, start_step=step)
    for batch in data.eval_batches(data.load("mnist1d", "test"), global_batch_size=1000): ...
"""
from deepzoo.data.pipeline import eval_batches, num_eval_batches, train_batches
from deepzoo.data.sources import ArraySource, RecordSource, load, resolve_data_dir

__all__ = ["ArraySource", "RecordSource", "eval_batches", "load", "num_eval_batches",
           "resolve_data_dir", "train_batches"]

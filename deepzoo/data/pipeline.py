"""Batches from a source: a Grain MapDataset indexed by step, so the data order is a pure function of
(seed, step) and a resumed run reads exactly the batches an uninterrupted one would have read.

The examples form one stream: epoch e is a permutation of the split drawn from (seed, e), epochs follow
each other, and global batch s is stream positions [s*B, (s+1)*B). Process p of P reads only its
rows [p*B/P, (p+1)*B/P) of each global batch; `jax.make_array_from_process_local_data` joins them.
"""
import grain
import jax
import numpy as np


def _process(process_index, process_count, global_batch_size):
    index = jax.process_index() if process_index is None else process_index
    count = jax.process_count() if process_count is None else process_count
    if global_batch_size % count:
        raise ValueError(f"global batch size {global_batch_size} is not divisible by the "
                         f"{count} processes; make it a multiple of {count}.")
    return index, count, global_batch_size // count


class TrainOrder:
    """The stream's order: which examples global batch `step` holds (this process's rows of it)."""

    def __init__(self, n: int, seed: int, global_batch_size: int, process_index: int = 0, local_batch_size=None):
        self.n, self.seed, self.global_batch_size = n, seed, global_batch_size
        self.local_batch_size = global_batch_size if local_batch_size is None else local_batch_size
        self.first_row = process_index * self.local_batch_size
        self._permutations = {}

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch not in self._permutations:  # keep the previous epoch: batches straddle two
            self._permutations = {e: p for e, p in self._permutations.items() if e == epoch - 1}
            self._permutations[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return self._permutations[epoch]

    def positions(self, step: int) -> np.ndarray:
        """The stream positions of this process's rows of global batch `step`."""
        start = step * self.global_batch_size + self.first_row
        return np.arange(start, start + self.local_batch_size, dtype=np.int64)

    def indices(self, step: int, num_steps: int = 1) -> np.ndarray:
        """(num_steps, local batch) example indices of global batches step, step + 1, ..."""
        positions = np.stack([self.positions(s) for s in range(step, step + num_steps)])
        epochs, offsets = np.divmod(positions, self.n)
        indices = np.empty_like(offsets)
        for epoch in np.unique(epochs):
            where = epochs == epoch
            indices[where] = self._permutation(int(epoch))[offsets[where]]
        return indices


class _TrainBatch:
    """Step -> this process's rows of global batch `step`."""

    def __init__(self, source, seed, global_batch_size, process_index, local_batch_size):
        self.source, self.seed = source, seed
        self.order = TrainOrder(len(source), seed, global_batch_size, process_index, local_batch_size)

    def __call__(self, step: int) -> dict[str, np.ndarray]:
        # Augmentation randomness per example, from (seed, stream position): independent of processes.
        return self.source.read(self.order.indices(step)[0],
                                seeds=[(self.seed, int(p)) for p in self.order.positions(step)])


def train_batches(source, *, global_batch_size: int, seed: int, start_step: int = 0,
                  num_steps: int | None = None, prefetch: int = 0, threads: int = 1,
                  process_index: int | None = None, process_count: int | None = None):
    """Iterator of this process's training batches for steps start_step, start_step + 1, ...

    prefetch > 0 prepares that many batches ahead in `threads` background threads (for record sources
    whose decoding is slow; PIL releases the GIL while it decodes and resizes); in-memory sources are
    fastest with prefetch=0.
    """
    if len(source) == 0:
        raise ValueError("the training split is empty.")
    index, _, local = _process(process_index, process_count, global_batch_size)
    stop = start_step + num_steps if num_steps is not None else np.iinfo(np.int64).max
    steps = grain.MapDataset.range(start_step, stop).map(
        _TrainBatch(source, seed, global_batch_size, index, local))
    if prefetch:
        return iter(steps.to_iter_dataset(grain.ReadOptions(num_threads=threads, prefetch_buffer_size=prefetch)))
    return (steps[i] for i in range(len(steps)))


def eval_batches(source, *, global_batch_size: int,
                 process_index: int | None = None, process_count: int | None = None):
    """One ordered pass over the split in global batches; the last is padded, with batch["mask"] = 0
    on the padding so that summed metrics count every example exactly once."""
    index, _, local = _process(process_index, process_count, global_batch_size)
    n = len(source)
    for start in range(0, n, global_batch_size):
        positions = start + index * local + np.arange(local)
        mask = positions < n
        batch = source.read(np.where(mask, positions, 0))
        batch["mask"] = mask.astype(np.float32)
        yield batch

"""Generated algorithmic tasks for memory networks, deterministic in their seed.

The copy task (Graves, Wayne & Danihelka 2014, section 4.1): a sequence of L random 8-bit vectors, then a
delimiter flag on a channel of its own, then silence while the network must give the L vectors back.

    step      0 .. L-1         L              L+1 .. 2L          2L+1 .. T-1
    input     the vectors      delimiter      zeros              zeros (padding)     (T, 9)
    target    zeros            zeros          the vectors        zeros               (T, 8)
    weights   0                0              1                  0                   (T,)

T = 2 max_length + 1 for every example of a split, so that a split is one array; the weights say where the
copy is scored. The named splits (`load("copy", split)`): "train" (100,000 sequences, lengths 1-20 drawn
uniformly, as the paper trained), "validation" (1,000, lengths 1-20) and "length_<L>" (100 sequences of
length L exactly, for L in TEST_LENGTHS: the paper's generalisation to longer sequences, Figures 3-4).

Repeat copy (section 4.2): L vectors, then the number of copies R on a channel of its own (normalised to mean 0
and variance 1 over R = 1..10), then R copies and an end marker (the target's extra channel) right after them:
the network must count. Inputs (T, bits + 1), targets (T, bits + 1), T = max_length (1 + max_repeats) + 2.

Associative recall (section 4.3): items of 3 vectors of 6 bits, each after an item delimiter (channel 6); then
the query, one of the items but the last, between two query delimiters (channel 7); then the item that followed
the query in the list. Inputs (T, 8), targets (T, 6), T = 4 max_items + 8.

All the named datasets (`load(name, split)`) are in DATASETS: each split's sizes and its seed.
"""
import numpy as np

BITS = 8
TRAIN_LENGTHS = (1, 20)
TEST_LENGTHS = (10, 20, 30, 50, 120)
SPLITS = {"train": (100_000, *TRAIN_LENGTHS), "validation": (1_000, *TRAIN_LENGTHS),
          **{f"length_{n}": (100, n, n) for n in TEST_LENGTHS}}


def copy_sequences(num_examples: int, min_length: int, max_length: int, *, bits: int = BITS,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """{"input": uint8 (n, T, bits + 1), "target": uint8 (n, T, bits), "weights": uint8 (n, T)}, T = 2 max_length
    + 1 (module docstring), lengths uniform in [min_length, max_length]."""
    if not 1 <= min_length <= max_length:
        raise ValueError(f"copy sequences need 1 <= min_length <= max_length, got {min_length}, {max_length}.")
    rng = np.random.default_rng(seed)
    steps = 2 * max_length + 1
    lengths = rng.integers(min_length, max_length + 1, size=num_examples)
    vectors = rng.integers(0, 2, size=(num_examples, max_length, bits), dtype=np.uint8)
    vectors *= (np.arange(max_length) < lengths[:, None])[..., None].astype(np.uint8)   # zero past each length
    inputs = np.zeros((num_examples, steps, bits + 1), np.uint8)
    targets = np.zeros((num_examples, steps, bits), np.uint8)
    weights = np.zeros((num_examples, steps), np.uint8)
    rows = np.arange(num_examples)
    inputs[:, :max_length, :bits] = vectors
    inputs[rows, lengths, bits] = 1                                                      # the delimiter
    for i, n in enumerate(lengths):   # the answer starts right after each delimiter
        targets[i, n + 1:2 * n + 1] = vectors[i, :n]
        weights[i, n + 1:2 * n + 1] = 1
    return {"input": inputs, "target": targets, "weights": weights}


REPEATS_MEAN, REPEATS_STD = 5.5, float(np.std(np.arange(1, 11)))   # R = 1..10, the paper's training range


def repeat_copy(num_examples: int, lengths: tuple[int, int], repeats: tuple[int, int], *, bits: int = BITS,
                seed: int = 0) -> dict[str, np.ndarray]:
    """{"input", "target", "weights"} of the repeat-copy task (module docstring), lengths and numbers of copies
    uniform in their closed ranges."""
    (low, high), (few, many) = lengths, repeats
    if not (1 <= low <= high and 1 <= few <= many):
        raise ValueError(f"repeat copy needs 1 <= lengths and 1 <= repeats, low <= high; got {lengths}, {repeats}.")
    rng = np.random.default_rng(seed)
    steps = high * (1 + many) + 2
    inputs = np.zeros((num_examples, steps, bits + 1), np.float32)   # the count channel is not a bit
    targets = np.zeros((num_examples, steps, bits + 1), np.uint8)
    weights = np.zeros((num_examples, steps), np.uint8)
    for i in range(num_examples):
        n, r = rng.integers(low, high + 1), rng.integers(few, many + 1)
        vectors = rng.integers(0, 2, size=(n, bits), dtype=np.uint8)
        inputs[i, :n, :bits] = vectors
        inputs[i, n, bits] = (r - REPEATS_MEAN) / REPEATS_STD
        targets[i, n + 1:n + 1 + r * n, :bits] = np.tile(vectors, (r, 1))
        targets[i, n + 1 + r * n, bits] = 1                                              # the end marker
        weights[i, n + 1:n + 2 + r * n] = 1
    return {"input": inputs, "target": targets, "weights": weights}


def associative_recall(num_examples: int, items: tuple[int, int], *, bits: int = 6, item_length: int = 3,
                       seed: int = 0) -> dict[str, np.ndarray]:
    """{"input", "target", "weights"} of the associative-recall task (module docstring), the number of items
    uniform in its closed range (at least 2)."""
    few, many = items
    if not 2 <= few <= many:
        raise ValueError(f"associative recall needs 2 <= items[0] <= items[1]; got {items}.")
    rng = np.random.default_rng(seed)
    slot = item_length + 1
    steps = slot * many + 2 * item_length + 2
    inputs = np.zeros((num_examples, steps, bits + 2), np.uint8)
    targets = np.zeros((num_examples, steps, bits), np.uint8)
    weights = np.zeros((num_examples, steps), np.uint8)
    for i in range(num_examples):
        n = rng.integers(few, many + 1)
        item = rng.integers(0, 2, size=(n, item_length, bits), dtype=np.uint8)
        for k in range(n):
            inputs[i, slot * k, bits] = 1                                                # item delimiter
            inputs[i, slot * k + 1:slot * (k + 1), :bits] = item[k]
        query, start = rng.integers(0, n - 1), slot * n
        inputs[i, start, bits + 1] = inputs[i, start + slot, bits + 1] = 1               # query delimiters
        inputs[i, start + 1:start + slot, :bits] = item[query]
        answer = start + slot + 1
        targets[i, answer:answer + item_length] = item[query + 1]
        weights[i, answer:answer + item_length] = 1
    return {"input": inputs, "target": targets, "weights": weights}


DATASETS = {   # name -> split -> (generator, its arguments, seed)
    "copy": {split: (copy_sequences, (n, low, high), seed) for seed, (split, (n, low, high)) in enumerate(SPLITS.items())},
    "repeat_copy": {"train": (repeat_copy, (50_000, (1, 10), (1, 10)), 0),
                    "validation": (repeat_copy, (1_000, (1, 10), (1, 10)), 1),
                    "more_repeats": (repeat_copy, (100, (10, 10), (20, 20)), 2),   # Graves et al.'s Figure 9
                    "longer": (repeat_copy, (100, (20, 20), (10, 10)), 3)},
    "associative_recall": {"train": (associative_recall, (50_000, (2, 6)), 0),
                           "validation": (associative_recall, (1_000, (2, 6)), 1),
                           **{f"items_{n}": (associative_recall, (100, (n, n)), n) for n in (6, 8, 12, 15)}},
}


def load(name: str, split: str) -> dict[str, np.ndarray]:
    """The arrays of a named split (DATASETS); each split has a seed of its own."""
    if split not in DATASETS[name]:
        raise ValueError(f"{name} has splits {', '.join(DATASETS[name])}, not {split!r}.")
    generator, args, seed = DATASETS[name][split]
    return generator(*args, seed=seed)

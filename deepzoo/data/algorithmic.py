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


def load(name: str, split: str) -> dict[str, np.ndarray]:
    """The arrays of a named split (module docstring); each split has a seed of its own."""
    if split not in SPLITS:
        raise ValueError(f"the copy task has splits {', '.join(SPLITS)}, not {split!r}.")
    num_examples, low, high = SPLITS[split]
    return copy_sequences(num_examples, low, high, seed=list(SPLITS).index(split))

"""Generated spike trains: a stream of bits, each sent as one of two jittered spike-pattern templates, the
temporal tasks of liquid state machines (Maass, Natschläger & Markram 2002; Legenstein & Maass 2007, who read
the bits of the last segments, and their parity, from the liquid).

Two templates, drawn once from `template_seed`: each `channels` spike trains over `segment_ms` ms with
`spikes` spikes apiece at random times (so the two templates have as many spikes: only their timing tells them
apart). An example is `segments` random bits, segment k carrying template b_k with every spike moved by
Gaussian jitter of `jitter` ms (rounded to the 1 ms bins, kept inside the example), so that reading a bit takes
the timing of its spikes. Deterministic in the seeds.
"""
import numpy as np


def templates(count: int, channels: int, duration: int, spikes: int, template_seed: int) -> list[list[np.ndarray]]:
    """The spike times (ms, int) of `count` templates: [template][channel] -> sorted array of `spikes` times."""
    rng = np.random.default_rng(template_seed)
    return [[np.sort(rng.choice(duration, spikes, replace=False)) for _ in range(channels)] for _ in range(count)]


def spike_bits(num_examples: int, *, segments: int = 5, segment_ms: int = 40, channels: int = 4, spikes: int = 2,
               jitter: float = 4.0, template_seed: int = 0, seed: int = 0) -> dict[str, np.ndarray]:
    """{"input": uint8 (n, segments * segment_ms, channels) spikes in 1 ms bins, "bits": uint8 (n, segments)}
    (module docstring)."""
    if jitter < 0 or segments < 1 or segment_ms < 1:
        raise ValueError(f"spike bits need jitter >= 0, segments >= 1 and segment_ms >= 1; got {jitter}, {segments}, "
                         f"{segment_ms}.")
    patterns = templates(2, channels, segment_ms, spikes, template_seed)
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(num_examples, segments), dtype=np.uint8)
    duration = segments * segment_ms
    trains = np.zeros((num_examples, duration, channels), np.uint8)
    for i in range(num_examples):
        for k, bit in enumerate(bits[i]):
            for c, times in enumerate(patterns[bit]):
                moved = np.rint(k * segment_ms + times + rng.normal(0.0, jitter, len(times)))
                trains[i, np.clip(moved, 0, duration - 1).astype(int), c] = 1
    return {"input": trains, "bits": bits}


# What a readout at the last step is asked about the bits b_1..b_K: the present one, the two before it (memory),
# and nonlinear functions of them (no linear readout of the input alone can compute a XOR).
TASKS = {"b_K": lambda b: b[:, -1], "b_K-1": lambda b: b[:, -2], "b_K-2": lambda b: b[:, -3],
         "b_K xor b_K-1": lambda b: b[:, -1] ^ b[:, -2], "parity of the last 3": lambda b: b[:, -1] ^ b[:, -2] ^ b[:, -3]}
SPLITS = {"train": (2000, 1), "validation": (500, 2), "test": (1000, 3)}   # examples, seed


def load(name: str, split: str) -> dict[str, np.ndarray]:
    """The named dataset "spike_bits" (spike_bits' defaults) as the bit-sequence task reads it: "input" (n, T, 4),
    "target" (n, T, len(TASKS)) the tasks' answers at the last step (zeros before), "weights" (n, T) 1 at the last
    step only, and "bits" (n, 5)."""
    if split not in SPLITS:
        raise ValueError(f"spike_bits has splits {', '.join(SPLITS)}, not {split!r}.")
    num_examples, seed = SPLITS[split]
    arrays = spike_bits(num_examples, seed=seed)
    steps = arrays["input"].shape[1]
    target = np.zeros((num_examples, steps, len(TASKS)), np.uint8)
    target[:, -1] = np.stack([task(arrays["bits"]) for task in TASKS.values()], 1)
    weights = np.zeros((num_examples, steps), np.uint8)
    weights[:, -1] = 1
    return {**arrays, "target": target, "weights": weights}

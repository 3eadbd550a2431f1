"""Generated spike trains: jittered spike-pattern templates, the temporal classification task of liquid state
machines (Maass, Natschläger & Markram 2002, Neural Computation 14: 2531-2560).

Each class is a template: `channels` Poisson spike trains of `rate` Hz over `duration` ms, drawn once from
`template_seed`. An example is its class's template with every spike moved by Gaussian jitter of `jitter` ms
(rounded to the 1 ms bins, kept inside the window), so that telling the classes apart needs the timing of
spikes, not their count alone (a class's examples have the same spikes, moved; two that land in one bin
become one). Deterministic in the seeds.
"""
import numpy as np


def templates(num_classes: int, channels: int = 4, duration: int = 200, rate: float = 20.0,
              template_seed: int = 0) -> list[list[np.ndarray]]:
    """The spike times (ms, int) of each class's channels: [class][channel] -> sorted array."""
    rng = np.random.default_rng(template_seed)
    return [[np.flatnonzero(rng.random(duration) < rate / 1000.0) for _ in range(channels)]
            for _ in range(num_classes)]


def jittered_spikes(num_examples: int, num_classes: int = 4, *, jitter: float = 4.0, channels: int = 4,
                    duration: int = 200, rate: float = 20.0, template_seed: int = 0,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """{"input": uint8 (n, duration, channels) spikes in 1 ms bins, "label": int32 (n,)}, classes balanced in
    turn (module docstring)."""
    if jitter < 0 or num_classes < 1 or duration < 1:
        raise ValueError(f"jittered spikes need jitter >= 0, num_classes >= 1 and duration >= 1; got "
                         f"{jitter}, {num_classes}, {duration}.")
    patterns = templates(num_classes, channels, duration, rate, template_seed)
    rng = np.random.default_rng(seed)
    labels = np.arange(num_examples, dtype=np.int32) % num_classes
    spikes = np.zeros((num_examples, duration, channels), np.uint8)
    for i, label in enumerate(labels):
        for c, times in enumerate(patterns[label]):
            moved = np.clip(np.rint(times + rng.normal(0.0, jitter, len(times))), 0, duration - 1).astype(int)
            spikes[i, moved, c] = 1
    return {"input": spikes, "label": labels}

"""Attention pictures: every layer's and head's weights for one input, as a grid of heatmaps (PNG).

    weights = attention.collect(model, variables, source, previous)  # {"decoder_block1/cross_attention": (heads, q, k)}
    attention.plot(weights, path, queries=tgt_pieces, keys=src_pieces)

Every attention layer sows its weights into the "intermediates" collection (deepzoo/layers/attention.py);
this reads them back for the first example of the batch, keyed by the layer's path.
"""
import textwrap

import numpy as np

from deepzoo.layers.attention import sown_attention_weights


def collect(model, variables, *inputs, **kwargs) -> dict[str, np.ndarray]:
    """{layer path: weights (heads, q_len, kv_len)} of the first example, in the model's layer order."""
    _, state = model.apply(variables, *inputs, mutable=["intermediates"], **kwargs)
    return {path: np.asarray(w[0]) for path, w in sown_attention_weights(state["intermediates"]).items()}


def plot(weights: dict[str, np.ndarray], path, *, queries, keys, title: str = ""):
    """One row per layer, one column per head; queries down, keys across (labels: token strings)."""
    import matplotlib  # noqa: PLC0415
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    heads = max(w.shape[0] for w in weights.values())
    q, k = len(queries), len(keys)
    size = max(1.6, 0.16 * max(q, k))
    fig, axes = plt.subplots(len(weights), heads, figsize=(size * heads + 1, size * len(weights) + 0.8),
                             squeeze=False)
    for layer, (row, (name, w)) in enumerate(zip(axes, weights.items())):
        for h, ax in enumerate(row):
            ax.imshow(w[h, :q, :k], cmap="gray_r", vmin=0, vmax=1, aspect="auto")
            ax.set_xticks(range(k), keys if ax is axes[-1][h] else [], rotation=90, fontsize=5)
            ax.set_yticks(range(q), queries if h == 0 else [], fontsize=5)
            if layer == 0:
                ax.set_title(f"head {h + 1}", fontsize=8)
        row[0].set_ylabel(name, fontsize=7)
    width = fig.get_size_inches()[0]
    title = textwrap.fill(title, width=max(20, int(width * 72 / (9 * 0.6))))   # 9-point characters per line
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.1 * (title.count("\n") + 1) / fig.get_size_inches()[1]))
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""Grids of small grey images with their rows and columns named: reconstructions, latent traversals."""
import numpy as np


def grid(axes: np.ndarray, images: np.ndarray, *, row_labels, column_labels, fontsize: int = 7):
    """Draws images (R, C, H, W) with values in [0, 1] into the axes (R, C), the rows named on the left and the
    columns on top, without ticks."""
    for r in range(images.shape[0]):
        for c in range(images.shape[1]):
            ax = axes[r, c]
            ax.imshow(images[r, c], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=fontsize)
            if r == 0:
                ax.set_title(column_labels[c], fontsize=fontsize)

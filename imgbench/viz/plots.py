"""Learning curves and confusion matrices as PNG files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..fileio import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pyplot():
    """matplotlib.pyplot: on the Agg backend (no display needed), except inside a Jupyter kernel.

    In a notebook the user's inline backend stays, so a returned figure shows under its cell.
    """
    import sys

    import matplotlib

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> None:
    """Write ``fig`` as a PNG atomically."""
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110, bbox_inches="tight")


def plot_curves(rows: list[dict], path: str | Path, title: str = "") -> Figure:
    """Loss and accuracy per epoch, training and validation, side by side."""
    plt = pyplot()
    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss"), (ax_acc, "acc", "accuracy")):
        ax.plot(epochs, [r[f"train_{key}"] for r in rows], "o-", label="train")
        val = [r[f"val_{key}"] for r in rows]
        if not all(np.isnan(v) for v in val):
            ax.plot(epochs, val, "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title or "learning curves")
    save_figure(fig, path)
    plt.close(fig)
    return fig


def plot_confusion_matrix(cm, class_names, path: str | Path, title: str = "") -> Figure:
    """Counts with row-normalised colour (rows: true class, columns: predicted)."""
    plt = pyplot()
    cm = np.asarray(cm)
    k = len(class_names)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.55 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 30:
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black",
                )
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the true class")
    ax.set_title(title or f"confusion matrix (accuracy {np.trace(cm) / max(cm.sum(), 1):.4f})")
    save_figure(fig, path)
    plt.close(fig)
    return fig

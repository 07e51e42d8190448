"""Image galleries: sample predictions, the most confident mistakes, examples per class."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .plots import pyplot, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CORRECT, WRONG = "#1a7f37", "#cf222e"


def to_display(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """An NCHW-style ``(C, H, W)`` uint8 image as something ``imshow`` takes, and its colour map."""
    if image.shape[0] == 1:
        return image[0], "gray"
    return np.transpose(image, (1, 2, 0)), None


def plot_gallery(
    images: np.ndarray,
    captions: list[str],
    path: str | Path,
    title: str = "",
    colors: list[str] | None = None,
    ncols: int = 6,
) -> Figure:
    """A grid of ``(N, C, H, W)`` uint8 images, each with a caption (coloured when ``colors`` is given)."""
    plt = pyplot()
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.9 * ncols, 2.1 * nrows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    # strict=False: the grid may have more axes than images.
    for i, (ax, img) in enumerate(zip(axes.flat, images, strict=False)):
        shown, cmap = to_display(img)
        ax.imshow(shown, cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(captions[i], fontsize=8, color=colors[i] if colors else "black")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return fig


def plot_predictions(images, y_true, probs, class_names, path, title: str = "sample predictions") -> Figure:
    """Predictions with their confidence: green when right, red when wrong."""
    y_hat = probs.argmax(axis=1)
    captions, colors = [], []
    for t, p, pr in zip(y_true, y_hat, probs, strict=True):
        right = t == p
        captions.append(f"{class_names[p]} ({pr[p]:.0%})" + ("" if right else f"\ntrue: {class_names[t]}"))
        colors.append(CORRECT if right else WRONG)
    return plot_gallery(images, captions, path, title, colors)


def confident_mistakes(y_true: np.ndarray, probs: np.ndarray, k: int = 12) -> np.ndarray:
    """Indices of the ``k`` wrong predictions made with the highest confidence, most confident first."""
    y_hat = probs.argmax(axis=1)
    wrong = np.flatnonzero(y_hat != y_true)
    conf = probs[wrong, y_hat[wrong]]
    return wrong[np.argsort(-conf, kind="stable")[:k]]


def plot_mistakes(images, y_true, probs, indices, class_names, path, title: str) -> Figure:
    """The wrong predictions at ``indices`` (``images`` holds those images), captioned with the index,
    the predicted class with its confidence and the true class."""
    y_hat = probs.argmax(axis=1)
    captions = [
        f"#{i}: {class_names[y_hat[i]]} ({probs[i, y_hat[i]]:.0%})\ntrue: {class_names[y_true[i]]}" for i in indices
    ]
    return plot_gallery(images, captions, path, title, colors=[WRONG] * len(indices))


def plot_examples_per_class(
    X: np.ndarray,
    y: np.ndarray,
    class_names,
    path,
    per_class: int = 8,
    seed: int = 0,
    title: str = "examples per class",
) -> Figure:
    """One row per class with ``per_class`` random examples of it."""
    plt = pyplot()
    rng = np.random.default_rng(seed)
    k = len(class_names)
    fig, axes = plt.subplots(
        k, per_class, figsize=(1.1 * per_class + 1.2, 1.1 * k + 0.6), squeeze=False, layout="constrained"
    )
    for c in range(k):
        idx = np.flatnonzero(y == c)
        chosen = rng.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else idx
        for j, ax in enumerate(axes[c]):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(chosen):
                shown, cmap = to_display(X[chosen[j]])
                ax.imshow(shown, cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
        axes[c][0].set_ylabel(str(class_names[c]), rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    save_figure(fig, path)
    plt.close(fig)
    return fig

"""Inside a network: first-layer filters, feature maps, class probabilities, saliency, embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .galleries import to_display
from .plots import pyplot, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _grid(n: int, max_cols: int = 8) -> tuple[int, int]:
    cols = min(n, max_cols)
    return -(-n // cols), cols


def plot_filters(weights: np.ndarray, path: str | Path, title: str = "") -> Figure:
    """Every filter of a conv layer, ``weights`` (out, in, k, k).

    Grey-scale input: each filter drawn with a diverging map centred on 0
    (red positive, blue negative).  RGB input: each filter min-max scaled
    to an RGB patch, as is usual for first layers.
    """
    plt = pyplot()
    w = np.asarray(weights, dtype=np.float64)
    n = w.shape[0]
    rows, cols = _grid(n)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols + 0.8, 1.3 * rows + 0.7), squeeze=False)
    limit = float(np.abs(w).max()) or 1.0
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:n]):
        if w.shape[1] == 3:
            f = np.transpose(w[i], (1, 2, 0))
            f = (f - f.min()) / (np.ptp(f) or 1.0)
            ax.imshow(f, interpolation="nearest")
        else:
            im = ax.imshow(w[i].mean(axis=0), cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(str(i), fontsize=7)
    if w.shape[1] != 3:
        fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.02, label="weight")
    fig.suptitle(title or f"{n} filters, {w.shape[2]}x{w.shape[3]}")
    save_figure(fig, path)
    plt.close(fig)
    return fig


def plot_feature_maps(name: str, fmap: np.ndarray, path: str | Path, max_maps: int = 32) -> Figure:
    """The channels of one layer's output for one image, ``fmap`` (C, H, W); the title gives name and shape."""
    plt = pyplot()
    c = fmap.shape[0]
    shown = min(c, max_maps)
    rows, cols = _grid(shown)
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols + 0.4, 1.45 * rows + 0.7), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:shown]):
        ax.imshow(fmap[i], cmap="viridis", interpolation="nearest")
        ax.set_title(f"ch {i}", fontsize=7)
    shape = "x".join(map(str, fmap.shape))
    more = f"; first {shown} of {c} channels" if shown < c else ""
    fig.suptitle(f"{name}: output {shape} (channels x height x width){more}")
    save_figure(fig, path)
    plt.close(fig)
    return fig


def plot_probabilities(probs: np.ndarray, class_names, path: str | Path, title: str = "") -> Figure:
    """Horizontal bars of every class's predicted probability, the top class highlighted."""
    plt = pyplot()
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(6, max(2.5, 0.32 * k + 1)))
    colors = ["#cf6a00" if i == int(np.argmax(probs)) else "#4c72b0" for i in range(k)]
    ax.barh(range(k), probs, color=colors)
    ax.set_yticks(range(k), [str(c) for c in class_names])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    for i, p in enumerate(probs):
        ax.text(min(p + 0.01, 0.9), i, f"{p:.3f}", va="center", fontsize=8)
    ax.set_title(title or "predicted class probabilities")
    save_figure(fig, path)
    plt.close(fig)
    return fig


def saliency_map(gradient: np.ndarray) -> np.ndarray:
    """``(H, W)`` saliency of a ``(C, H, W)`` input gradient: |d logit / d pixel|, max over channels, scaled so
    that the largest value is 1 (all zeros stay zeros)."""
    sal = np.abs(gradient).max(axis=0)
    return sal / (sal.max() or 1.0)


def plot_overlay(
    image: np.ndarray,
    heat: np.ndarray,
    path: str | Path,
    *,
    heat_title: str,
    title: str,
    cmap: str = "hot",
    interpolation: str | None = None,
) -> Figure:
    """Three panels: the image (C, H, W), a heat map (H, W) in [0, 1] beside it, and the two overlaid.

    ``interpolation`` is matplotlib's (``nearest`` draws each value as a flat square; None its default).
    """
    plt = pyplot()
    shown, image_cmap = to_display(image)
    fig, axes = plt.subplots(1, 3, figsize=(9.5, 3.4))
    axes[0].imshow(shown, cmap=image_cmap, vmin=0, vmax=255, interpolation=interpolation)
    axes[0].set_title("input")
    im = axes[1].imshow(heat, cmap=cmap, vmin=0, vmax=1, interpolation=interpolation)
    axes[1].set_title(heat_title, fontsize=10)
    fig.colorbar(im, ax=axes[1], fraction=0.046)
    axes[2].imshow(shown, cmap=image_cmap, vmin=0, vmax=255, interpolation=interpolation)
    axes[2].imshow(heat, cmap=cmap, alpha=0.55, vmin=0, vmax=1, interpolation=interpolation)
    axes[2].set_title("overlay")
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title)
    save_figure(fig, path)
    plt.close(fig)
    return fig


def plot_saliency(image: np.ndarray, gradient: np.ndarray, path: str | Path, title: str = "") -> Figure:
    """The image, |d logit / d pixel| (max over channels), and the two overlaid."""
    return plot_overlay(
        image, saliency_map(gradient), path, heat_title="saliency |d logit / d pixel|", title=title or "saliency"
    )


def plot_embedding(points: np.ndarray, y: np.ndarray, class_names, path: str | Path, title: str = "") -> Figure:
    """A 2-D projection of activations, one colour per class, with a legend of class names."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 6.2))
    cmap = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    for c, name in enumerate(class_names):
        m = y == c
        if m.any():
            ax.scatter(points[m, 0], points[m, 1], s=7, alpha=0.7, color=cmap(c % cmap.N), label=str(name))
    ax.legend(markerscale=2.5, fontsize=8, loc="best", ncol=1 if len(class_names) <= 12 else 2)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    save_figure(fig, path)
    plt.close(fig)
    return fig

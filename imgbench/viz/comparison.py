"""Figures that compare several models: overlaid curves, per-class F1, trade-offs, significance."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .plots import pyplot, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_curves_overlay(curves: dict[str, list[list[dict]]], path: str | Path, title: str = "") -> Figure:
    """Validation accuracy (training accuracy when there is no validation split) and training loss per
    epoch; one line per model (mean over its seeds, band from min to max)."""
    plt = pyplot()
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
    use_val = all(not np.isnan(r["val_acc"]) for runs in curves.values() for h in runs for r in h)
    acc_key = "val_acc" if use_val else "train_acc"
    for label, runs in curves.items():
        n = min(len(h) for h in runs)
        if n == 0:
            continue
        epochs = np.arange(1, n + 1)
        for ax, key in ((ax_acc, acc_key), (ax_loss, "train_loss")):
            values = np.array([[r[key] for r in h[:n]] for h in runs])
            (line,) = ax.plot(epochs, values.mean(axis=0), "o-", ms=3, label=label)
            if len(runs) > 1:
                ax.fill_between(epochs, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.15)
    ax_acc.set_ylabel("validation accuracy" if use_val else "training accuracy")
    ax_loss.set_ylabel("training loss (cross-entropy)")
    for ax in (ax_acc, ax_loss):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=8)
    fig.suptitle(title or "learning curves (mean over seeds; band: min to max)")
    save_figure(fig, path)
    plt.close(fig)
    return fig


def plot_per_class_f1(f1: dict[str, list[float]], class_names, path: str | Path, title: str = "") -> Figure:
    """Grouped bars: F1 of every class for every model."""
    plt = pyplot()
    k = len(class_names)
    labels = list(f1)
    width = 0.8 / max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(max(7.0, 0.6 * k * max(1, len(labels) / 2) + 2), 4.2))
    x = np.arange(k)
    for i, label in enumerate(labels):
        ax.bar(x + (i - (len(labels) - 1) / 2) * width, f1[label], width, label=label)
    ax.set_xticks(x, class_names, rotation=45 if k > 6 else 0, ha="right" if k > 6 else "center")
    ax.set_ylabel("F1 score (test)")
    lo = min(min(v) for v in f1.values()) if f1 else 0
    ax.set_ylim(max(0.0, lo - 0.05), 1.0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(len(labels), 3))
    ax.set_title(title or "per-class F1")
    save_figure(fig, path)
    plt.close(fig)
    return fig


def plot_tradeoff(points: list[dict], path: str | Path, title: str = "") -> Figure:
    """Accuracy against parameters; marker area grows with training time (labels say the seconds).

    ``points``: dicts with label, params, accuracy, accuracy_std, seconds.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    seconds = np.array([p["seconds"] for p in points], dtype=float)
    sizes = 40 + 400 * seconds / max(seconds.max(), 1e-9)
    for p, s in zip(points, sizes, strict=True):
        ax.errorbar(p["params"], p["accuracy"], yerr=p["accuracy_std"] or None, fmt="none", ecolor="grey", capsize=3)
        ax.scatter(p["params"], p["accuracy"], s=s, alpha=0.6)
        ax.annotate(
            f"{p['label']}\n{p['seconds']:.1f} s",
            (p["params"], p["accuracy"]),
            fontsize=7,
            xytext=(6, 6),
            textcoords="offset points",
        )
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("test accuracy (mean over seeds)")
    ax.grid(alpha=0.3, which="both")
    ax.set_title(title or "accuracy vs parameters (marker area: training time)")
    save_figure(fig, path)
    plt.close(fig)
    return fig


def plot_significance(
    labels: list[str], difference: np.ndarray, significant: np.ndarray, path: str | Path, title: str = ""
) -> Figure:
    """Pairwise differences in accuracy (row minus column, in points) on a diverging scale; significant pairs
    marked with *, pairs not compared (NaN, e.g. scored on different test sets) left blank."""
    plt = pyplot()
    k = len(labels)
    size = max(4.5, 0.9 * k + 2.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    points = 100 * np.where(np.eye(k, dtype=bool), np.nan, difference)
    limit = max(float(np.nanmax(np.abs(points))) if np.isfinite(points).any() else 0.0, 0.5)
    im = ax.imshow(points, cmap="RdBu", vmin=-limit, vmax=limit)
    ax.set_xticks(range(k), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    for i in range(k):
        for j in range(k):
            if np.isfinite(points[i, j]):
                text = f"{points[i, j]:+.1f}" + (" *" if significant[i, j] else "")
                dark = abs(points[i, j]) > 0.6 * limit
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, label="row minus column (accuracy points)")
    ax.set_title(title or "row minus column, accuracy points (* significant)")
    save_figure(fig, path)
    plt.close(fig)
    return fig

"""Plots with matplotlib's Agg backend (no display needed); every figure is written as a PNG."""

from .plots import plot_confusion_matrix, plot_curves

__all__ = ["plot_confusion_matrix", "plot_curves"]

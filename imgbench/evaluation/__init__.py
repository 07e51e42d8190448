"""Metrics, statistics and inference speed."""

from .metrics import classification_metrics, inference_speed, softmax
from .statistics import bootstrap_accuracy_ci, holm_adjust, mcnemar_exact, mean_ci

__all__ = [
    "bootstrap_accuracy_ci",
    "classification_metrics",
    "holm_adjust",
    "inference_speed",
    "mcnemar_exact",
    "mean_ci",
    "softmax",
]

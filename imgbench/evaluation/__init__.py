"""Metrics, statistics and inference speed."""

from .metrics import classification_metrics, inference_speed, softmax

__all__ = ["classification_metrics", "inference_speed", "softmax"]

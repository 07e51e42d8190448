"""Classification metrics (scikit-learn underneath); inference speed is in timing.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import mathops


def softmax(logits: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Row-wise probabilities of (N, K) logits, computed stably in float64."""
    return mathops.softmax(logits.astype(np.float64), axis=1)


def classification_metrics(
    y_true: npt.NDArray[Any], logits: npt.NDArray[Any], class_names: Sequence[str], top_k: Sequence[int] = (3, 5)
) -> dict[str, Any]:
    """Accuracy, top-k, per-class precision/recall/F1 with macro and weighted averages,
    confusion matrix (rows: true class, columns: predicted) and log loss."""
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        log_loss,
        precision_recall_fscore_support,
        top_k_accuracy_score,
    )

    k = len(class_names)
    labels = np.arange(k)
    probs = softmax(logits)
    y_pred = probs.argmax(axis=1)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out: dict[str, Any] = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "num_examples": int(len(y_true)),
        "log_loss": float(log_loss(y_true, np.clip(probs, 1e-15, 1.0), labels=labels)),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "class_names": list(class_names),
    }
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=avg, zero_division=0)
        out[f"precision_{avg}"], out[f"recall_{avg}"], out[f"f1_{avg}"] = float(ap), float(ar), float(af)
    for t in top_k:
        if t < k:
            out[f"top{t}_accuracy"] = float(top_k_accuracy_score(y_true, probs, k=t, labels=labels))
    return out

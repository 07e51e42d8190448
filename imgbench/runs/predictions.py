"""predictions.npz: a finished run's test labels and class probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ImgbenchError
from ..evaluation import softmax
from ..fileio import atomic_write


def write_predictions(path: Path, y_true: np.ndarray, logits: np.ndarray) -> None:
    """predictions.npz: test labels and probabilities, for significance tests and mistake galleries."""
    with atomic_write(path, "wb") as fh:
        np.savez_compressed(fh, y_true=np.asarray(y_true, np.int64), probs=softmax(logits).astype(np.float32))


def read_predictions(run: Path) -> dict[str, np.ndarray]:
    """``y_true`` and ``probs`` of a finished run's test split (loaded without pickle)."""
    path = Path(run) / "predictions.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {"y_true": z["y_true"], "probs": z["probs"]}
    except (OSError, KeyError, ValueError) as exc:
        raise ImgbenchError(f"{path}: cannot read test predictions ({exc})") from None
    if out["probs"].ndim != 2 or len(out["probs"]) != len(out["y_true"]):
        raise ImgbenchError(
            f"{path}: expected probs (N, classes) and y_true (N,), found {out['probs'].shape} and {out['y_true'].shape}"
        )
    return out

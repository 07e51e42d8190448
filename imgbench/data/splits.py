"""Seeded stratified splits and train-only normalisation statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from ..errors import DataFormatError

ScalarT = TypeVar("ScalarT", bound=np.generic)


def stratified_split(y: npt.ArrayLike, fraction: float, seed: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Indices ``(keep, held_out)`` with ``fraction`` of every class held out.

    Uses scikit-learn's ``StratifiedShuffleSplit``, so class proportions are
    preserved and the same ``seed`` always gives the same split.
    """
    from sklearn.model_selection import StratifiedShuffleSplit

    y = np.asarray(y)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split fraction must be between 0 and 1, got {fraction}")
    counts = np.bincount(y)
    present = counts[counts > 0]
    if present.min() < 2:
        k = int(np.flatnonzero(counts == present.min())[0])
        raise DataFormatError(
            f"class {k} has {present.min()} example(s): a stratified split needs at least 2 per class"
        )
    n_held = max(int(round(fraction * len(y))), len(present))
    n_held = min(n_held, len(y) - len(present))
    sss = StratifiedShuffleSplit(n_splits=1, test_size=n_held, random_state=seed)
    keep, held = next(sss.split(np.zeros(len(y)), y))
    return np.sort(keep), np.sort(held)


def train_val_split(
    X: npt.NDArray[ScalarT], y: npt.NDArray[np.int64], val_fraction: float, seed: int
) -> tuple[npt.NDArray[ScalarT], npt.NDArray[np.int64], npt.NDArray[ScalarT], npt.NDArray[np.int64]]:
    """Split the training set into ``(X_train, y_train, X_val, y_val)``, stratified.

    Validation data always comes from the training split: the test split is
    touched once, at the end.
    """
    tr, va = stratified_split(y, val_fraction, seed)
    return X[tr], y[tr], X[va], y[va]


def channel_stats(
    X: npt.NDArray[np.uint8], chunk: int = 4096
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-channel mean and standard deviation of uint8 NCHW images, in 0-255 units.

    Computed from a 256-bin histogram per channel: exact, and no float copy of
    the images is made (a 50,000-image CIFAR-10 set takes a fraction of a second).
    """
    c = X.shape[1]
    hist = np.zeros((c, 256), dtype=np.int64)
    for i in range(0, len(X), chunk):
        for ch in range(c):
            hist[ch] += np.bincount(X[i : i + chunk, ch].reshape(-1), minlength=256)
    n = np.maximum(hist.sum(axis=1), 1)
    v = np.arange(256, dtype=np.float64)
    mean = hist @ v / n
    var = np.maximum(hist @ (v**2) / n - mean**2, 0.0)
    return mean, np.sqrt(var)


class Normalizer:
    """Scale uint8 pixels to float32 ``(x/255 - mean) / std`` per channel.

    Fit it on training images only: statistics from validation or test data
    would leak information into training.
    """

    def __init__(self, mean: npt.ArrayLike, std: npt.ArrayLike) -> None:
        self.mean = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)

    @classmethod
    def fit(cls, X_train: npt.NDArray[np.uint8]) -> Normalizer:
        """Statistics from training images (0-1 scale)."""
        mean, std = channel_stats(X_train)
        return cls(mean / 255.0, np.maximum(std / 255.0, 1e-8))

    def __call__(self, X: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        out = X.astype(np.float32)
        out *= np.float32(1 / 255)
        out -= self.mean
        out /= self.std
        return out

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-friendly form, stored with a run so predictions use the same scaling."""
        return {"mean": self.mean.ravel().tolist(), "std": self.std.ravel().tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Sequence[float]]) -> Normalizer:
        """Inverse of :meth:`to_dict`."""
        return cls(d["mean"], d["std"])

"""A seeded mini-batch iterator shared by every engine.

The order of examples depends only on ``(seed, epoch)``, so the NumPy, PyTorch
and Keras engines see identical batches for identical seeds, and a resumed
run sees the batches it would have seen without the interruption.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from .augment import AugmentFn


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool = True) -> npt.NDArray[np.int64]:
    """Permutation of ``range(n)`` for one epoch (identity when not shuffling)."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


class BatchIterator:
    """Iterate over ``(X_batch, y_batch)`` for one epoch at a time.

    ``transform`` (e.g. normalisation) and ``augment`` (called with the batch
    and a generator seeded by ``(seed, epoch, batch)``) are applied per batch,
    so the full dataset is never copied to float.
    """

    def __init__(
        self,
        X: npt.NDArray[np.uint8],
        y: npt.NDArray[np.int64],
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
        transform: Callable[[npt.NDArray[np.uint8]], npt.NDArray[Any]] | None = None,
        augment: AugmentFn | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.X, self.y = X, y
        self.batch_size, self.seed, self.shuffle, self.drop_last = batch_size, seed, shuffle, drop_last
        self.transform, self.augment = transform, augment

    def __len__(self) -> int:
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def epoch(self, epoch: int) -> Iterator[tuple[npt.NDArray[Any], npt.NDArray[np.int64]]]:
        """Yield the batches of ``epoch``."""
        order = epoch_order(len(self.X), self.seed, epoch, self.shuffle)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            Xb, yb = self.X[idx], self.y[idx]
            if self.augment is not None:
                Xb = self.augment(Xb, np.random.default_rng([self.seed, epoch, i, 1]))
            if self.transform is not None:
                Xb = self.transform(Xb)
            yield Xb, yb

"""The :class:`Dataset` value every engine consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import DataFormatError


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels of one dataset, split into train and test.

    ``X_*`` are ``uint8`` arrays in NCHW layout (``(N, C, H, W)``), the one
    internal layout of imgbench.  ``y_*`` are ``int64`` class indices into
    ``class_names`` (int64 rather than uint8 so that image folders with more
    than 256 classes work and engines need no cast).  ``source`` says where
    the data was read from.
    """

    name: str
    X_train: npt.NDArray[np.uint8]
    y_train: npt.NDArray[np.int64]
    X_test: npt.NDArray[np.uint8]
    y_test: npt.NDArray[np.int64]
    class_names: tuple[str, ...]
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        for split in ("train", "test"):
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if X.dtype != np.uint8 or X.ndim != 4:
                raise DataFormatError(
                    f"{self.name}: {split} images must be uint8 (N, C, H, W); found {X.dtype} with shape {X.shape}"
                )
            if y.ndim != 1 or len(y) != len(X):
                raise DataFormatError(f"{self.name}: {split} has {len(X)} images but {len(y)} labels")
            if len(y) and (y.min() < 0 or y.max() >= len(self.class_names)):
                raise DataFormatError(
                    f"{self.name}: {split} labels must lie in 0..{len(self.class_names) - 1}; "
                    f"found {int(y.min())}..{int(y.max())}"
                )
        if self.X_train.shape[1:] != self.X_test.shape[1:]:
            raise DataFormatError(
                f"{self.name}: train images are {self.X_train.shape[1:]} but test images are {self.X_test.shape[1:]}"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        _, c, h, w = self.X_train.shape  # four axes: checked in __post_init__
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def __repr__(self) -> str:
        c, h, w = self.image_shape
        return (
            f"Dataset({self.name!r}, train={len(self.X_train)}, test={len(self.X_test)}, "
            f"image={c}x{h}x{w}, classes={self.num_classes}, source={self.source!r})"
        )

"""Datasets that ship inside a Python library: scikit-learn's 8x8 digits.

They need no files, no download and no search root, so they work offline
and in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...errors import DataFormatError
from ..catalog import DIGITS
from ..dataset import Dataset
from ..splits import stratified_split
from .base import DatasetFormat, LoadOptions


def load_digits() -> Dataset:
    """scikit-learn's digits as 0-255 uint8 images, with a fixed stratified test split."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    # Pixel intensities are 0..16; scale to the 0..255 of every other dataset.
    X = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    y = bunch.target.astype(np.int64)
    # A fixed split (seed 0) so every run and engine is scored on the same 360 images.
    tr, te = stratified_split(y, 0.2, seed=0)
    return Dataset(DIGITS.name, X[tr], y[tr], X[te], y[te], DIGITS.class_names, "scikit-learn (embedded)")


# Catalog name -> loader, for the catalog entries whose format is "embedded".
LOADERS: dict[str, Callable[[], Dataset]] = {DIGITS.name: load_digits}


def _read(name: str, folder: Path | None, options: LoadOptions) -> Dataset:
    if name not in LOADERS:
        raise DataFormatError(f"{name}: no embedded loader; expected one of {', '.join(LOADERS)}")
    return LOADERS[name]()


FORMAT = DatasetFormat(name="embedded", usage="bundled with a Python library (no files)", read=_read)

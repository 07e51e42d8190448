"""The ``csv:PATH`` format: Kaggle-style CSV images, ``label,pixel0,...,pixelN`` with values 0-255.

The label column is optional (Kaggle's ``test.csv`` has none; such files are
for prediction).  ``N + 1`` must be a square number: images are grey,
``sqrt(N + 1)`` pixels a side, stored row by row.

Parsing takes NumPy's C reader first; only when that fails is the file
re-read line by line to report the exact line and cell that is wrong.

PATH is a CSV file, or a folder with a ``train.csv`` and optionally a
labelled ``test.csv``; without a labelled test split, part of the training
rows is held out (stratified, seeded).
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ...errors import DataFormatError
from ...fileio import atomic_write
from .. import cache
from ..dataset import Dataset
from ..splits import stratified_split
from .base import DatasetFormat, LoadOptions


def _header(path: Path) -> list[str]:
    with open(path, newline="") as fh:
        first = fh.readline()
    if not first.strip():
        raise DataFormatError(f"{path}: expected a header line 'label,pixel0,...', found an empty file")
    return [c.strip().strip('"') for c in first.strip().split(",")]


def _diagnose(path: Path, ncols: int) -> DataFormatError:
    """Find the first malformed line, for a precise error message."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) != ncols:
                return DataFormatError(
                    f"{path}, line {line}: expected {ncols} columns as in the header, found {len(row)}"
                )
            for j, cell in enumerate(row):
                try:
                    v = float(cell)
                except ValueError:
                    return DataFormatError(
                        f"{path}, line {line}, column {j + 1}: expected a number, found {cell.strip()!r}"
                    )
                if not v.is_integer():
                    return DataFormatError(
                        f"{path}, line {line}, column {j + 1}: expected an integer, found {cell.strip()!r}"
                    )
    return DataFormatError(f"{path}: could not be parsed as a numeric CSV")


def read_csv(path: str | Path) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64] | None]:
    """Read a Kaggle MNIST-layout CSV into ``(X uint8 NCHW, y int64 or None)``."""
    path = Path(path)
    cols = _header(path)
    has_label = cols[0].lower() == "label"
    ncols = len(cols)
    npix = ncols - 1 if has_label else ncols
    side = math.isqrt(npix)
    if side * side != npix or npix == 0:
        raise DataFormatError(
            f"{path}: expected a square number of pixel columns (784 for 28x28) "
            f"{'after the label column' if has_label else ''}, found {npix}"
        )
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    except ValueError:
        raise _diagnose(path, ncols) from None
    if data.shape[0] == 0:
        raise DataFormatError(f"{path}: expected at least one data row after the header, found none")
    if data.shape[1] != ncols:
        raise _diagnose(path, ncols)
    pixels = data[:, 1:] if has_label else data
    if pixels.min() < 0 or pixels.max() > 255:
        bad = np.argwhere((pixels < 0) | (pixels > 255))[0]
        raise DataFormatError(
            f"{path}, line {bad[0] + 2}: expected pixel values 0-255, "
            f"found {pixels[bad[0], bad[1]]} in column {bad[1] + 1 + has_label}"
        )
    X = pixels.astype(np.uint8).reshape(-1, 1, side, side)
    y = data[:, 0].copy() if has_label else None
    if y is not None and y.min() < 0:
        raise DataFormatError(f"{path}: expected non-negative labels, found {int(y.min())}")
    return X, y


def write_csv(path: str | Path, X: npt.NDArray[np.uint8], y: npt.ArrayLike | None = None) -> None:
    """Write images (and labels) in the Kaggle layout, atomically."""
    flat = X.reshape(len(X), -1).astype(np.int64)
    header = [f"pixel{i}" for i in range(flat.shape[1])]
    if y is not None:
        flat = np.column_stack([np.asarray(y, dtype=np.int64), flat])
        header = ["label"] + header
    with atomic_write(path, "w") as fh:
        fh.write(",".join(header) + "\n")
        np.savetxt(fh, flat, fmt="%d", delimiter=",")


def _read(name: str, path: Path | None, options: LoadOptions) -> Dataset:
    assert path is not None, "csv:PATH always has a PATH"
    path = path.expanduser()
    if path.is_dir():
        train, test = path / "train.csv", path / "test.csv"
        if not train.is_file():
            raise DataFormatError(f"{path}: expected a train.csv (and optionally a labelled test.csv), found none")
    elif path.is_file():
        train, test = path, None
    else:
        raise DataFormatError(f"{path}: no such CSV file or folder")
    files = [f for f in (train, test) if f is not None and f.is_file()]
    split = {"test_fraction": options.test_fraction, "seed": options.split_seed}
    key = cache.fingerprint(files[0].parent, files, split)
    hit = cache.load("csv", key)
    if hit is None:
        X, y = read_csv(train)
        if y is None:
            raise DataFormatError(
                f"{train}: expected a 'label' first column for training, found none "
                "(a CSV without labels can be used with 'imgbench predict')"
            )
        X_te: npt.NDArray[np.uint8] | None = None
        y_te: npt.NDArray[np.int64] | None = None
        if test is not None and test.is_file():
            X_te, y_te = read_csv(test)
            if y_te is None:  # Kaggle's unlabelled test.csv: not usable for scoring
                warnings.warn(f"{test} has no label column; holding out part of {train.name} instead", stacklevel=3)
                X_te = None
        if X_te is None or y_te is None:
            tr, te = stratified_split(y, options.test_fraction, options.split_seed)
            X, y, X_te, y_te = X[tr], y[tr], X[te], y[te]
        hit = {"X_train": X, "y_train": y, "X_test": X_te, "y_test": y_te}
        cache.save("csv", key, hit)
    k = int(max(hit["y_train"].max(), hit["y_test"].max())) + 1
    return Dataset(
        f"{FORMAT.name}:{path}",
        hit["X_train"],
        hit["y_train"],
        hit["X_test"],
        hit["y_test"],
        tuple(str(i) for i in range(k)),
        str(path),
    )


FORMAT = DatasetFormat(
    name="csv",
    usage="csv:PATH (Kaggle layout: label,pixel0,...)",
    read=_read,
    prefix=True,
)

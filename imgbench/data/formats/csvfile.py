"""The ``csv:PATH`` format: Kaggle's CSV images, one grey image a row, pixel values 0-255.

Kaggle's MNIST-family CSVs are read as they come:

- file names: ``train.csv``/``test.csv`` (Digit Recognizer), ``mnist_train.csv``/``mnist_test.csv``
  (MNIST in CSV), ``fashion-mnist_train.csv``/``fashion-mnist_test.csv`` (Fashion MNIST); in general
  ``train.csv`` or ``NAME_train.csv`` with ``test.csv`` or ``NAME_test.csv`` beside it;
- headers: ``label,pixel0,...,pixel783``, ``label,pixel1,...,pixel784`` and ``label,1x1,1x2,...,28x28``
  (row x column, counted from 1), the names quoted or not, LF or CRLF line ends, with or without a
  UTF-8 byte-order mark.

The header says where each pixel goes, so columns in another order still give the right image; names
of no known style (``p0,p1,...``) are taken in file order, row by row.  The number of pixel columns must
be a square number (784 for 28x28).

The label column is optional: Kaggle's ``test.csv`` has none.  Such a file cannot score a model; it is
for predictions (``imgbench predict``).  PATH is a CSV file (part of its rows is held out as the test
split, stratified and seeded) or a folder with one training file and its test file.  When that test
file has no labels, a warning names it and part of the training rows is held out instead.

Parsing takes NumPy's C reader; only when that fails is the file re-read line by line to report the
exact line and cell that is wrong.
"""

from __future__ import annotations

import csv
import math
import re
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

LABEL = "label"
TRAIN, TEST = "train.csv", "test.csv"  # a folder's pair: train.csv or NAME_train.csv, and its test file
_PIXEL = re.compile(r"pixel(\d+)", re.IGNORECASE)  # pixel0.. (Digit Recognizer), pixel1.. (Fashion MNIST)
_ROW_BY_COLUMN = re.compile(r"(\d+)x(\d+)")  # 1x1..28x28 (MNIST in CSV): row x column, from 1


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _header(path: Path) -> tuple[list[str], bool]:
    """The column names of ``path``'s first line, and whether they are quoted (then cells may be too)."""
    # utf-8-sig: a byte-order mark (CSV saved by Excel) is not part of the first name.
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
    if not first.strip():
        raise DataFormatError(f"{path}: expected a header line 'label,pixel0,...', found an empty file")
    names = [c.strip().strip('"') for c in next(csv.reader([first]))]
    if all(_is_number(c) for c in names):
        raise DataFormatError(
            f"{path}: expected a header line 'label,pixel0,...' first, found a row of numbers; add the header line"
        )
    return names, '"' in first


def _has_label(path: Path, names: list[str]) -> bool:
    """Does the first column hold the labels?  A label column elsewhere is an error."""
    lowered = [n.lower() for n in names]
    if LABEL in lowered[1:]:
        raise DataFormatError(
            f"{path}: expected the '{LABEL}' column first, found it in column {lowered.index(LABEL, 1) + 1}"
        )
    return lowered[0] == LABEL


def _positions(names: list[str], side: int) -> list[int] | None:
    """Where each pixel column goes in the row-major image, as its name says; None for names of no known style."""
    pixels = [m for m in map(_PIXEL.fullmatch, names) if m]
    if len(pixels) == len(names):
        numbers = [int(m[1]) for m in pixels]
        base = min(min(numbers), 1)  # counted from 0 or from 1; anything higher leaves a gap, caught below
        return [k - base for k in numbers]
    cells = [m for m in map(_ROW_BY_COLUMN.fullmatch, names) if m]
    if len(cells) == len(names):
        # A column past the edge would alias the next row's pixel: make it -1, which names no pixel.
        return [(int(m[1]) - 1) * side + int(m[2]) - 1 if 1 <= int(m[2]) <= side else -1 for m in cells]
    return None


def _pixel_order(path: Path, names: list[str], side: int) -> npt.NDArray[np.intp] | None:
    """The pixel columns in image order (indices into ``names``); None when the file has them in that order."""
    positions = _positions(names, side)
    if positions is None:
        return None
    named: dict[int, str] = {}
    for name, k in zip(names, positions, strict=True):
        if not 0 <= k < side * side:
            raise DataFormatError(f"{path}: header column {name!r} names no pixel of a {side}x{side} image")
        if k in named:
            raise DataFormatError(f"{path}: header columns {named[k]!r} and {name!r} name the same pixel")
        named[k] = name
    order = np.argsort(positions)
    return None if bool((order == np.arange(len(order))).all()) else order


def _diagnose(path: Path, ncols: int) -> DataFormatError:
    """Find the first malformed line, for a precise error message."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
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
    """Read a Kaggle CSV (any layout of the module docstring) into ``(X uint8 NCHW, y int64 or None)``."""
    path = Path(path)
    names, quoted = _header(path)
    has_label = _has_label(path, names)
    ncols = len(names)
    npix = ncols - 1 if has_label else ncols
    side = math.isqrt(npix)
    if side * side != npix or npix == 0:
        raise DataFormatError(
            f"{path}: expected a square number of pixel columns (784 for 28x28) "
            f"{'after the label column' if has_label else ''}, found {npix}"
        )
    order = _pixel_order(path, names[has_label:], side)
    try:
        # The quote character costs the C reader about 8%: only a file that quotes its names gets it.
        data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2, quotechar='"' if quoted else None)
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
    if order is not None:
        pixels = pixels[:, order]
    X = pixels.astype(np.uint8).reshape(-1, 1, side, side)
    y = data[:, 0].copy() if has_label else None
    if y is not None and y.min() < 0:
        raise DataFormatError(f"{path}: expected non-negative labels, found {int(y.min())}")
    return X, y


def write_csv(path: str | Path, X: npt.NDArray[np.uint8], y: npt.ArrayLike | None = None) -> None:
    """Write images (and labels) in the Digit Recognizer layout (``label,pixel0,...``), atomically."""
    flat = X.reshape(len(X), -1).astype(np.int64)
    header = [f"pixel{i}" for i in range(flat.shape[1])]
    if y is not None:
        flat = np.column_stack([np.asarray(y, dtype=np.int64), flat])
        header = [LABEL] + header
    with atomic_write(path, "w") as fh:
        fh.write(",".join(header) + "\n")
        np.savetxt(fh, flat, fmt="%d", delimiter=",")


def kaggle_pair(folder: Path) -> tuple[Path, Path | None]:
    """The training file of a Kaggle folder (``train.csv`` or ``NAME_train.csv``) and its test file, if any."""
    found = sorted(p for p in folder.iterdir() if p.name == TRAIN or p.name.endswith(f"_{TRAIN}"))
    if not found:
        raise DataFormatError(
            f"{folder}: expected a training file {TRAIN} or NAME_{TRAIN} (mnist_{TRAIN}, fashion-mnist_{TRAIN}), "
            "with its test file beside it, found none"
        )
    if len(found) > 1:
        raise DataFormatError(
            f"{folder}: expected one training file, found {', '.join(p.name for p in found)}; "
            "put each train/test pair in a folder of its own, or give one file as csv:FILE (its rows are then split)"
        )
    train = found[0]
    test = train.with_name(train.name[: -len(TRAIN)] + TEST)
    return train, test if test.is_file() else None


def _read(name: str, path: Path | None, options: LoadOptions) -> Dataset:
    assert path is not None, "csv:PATH always has a PATH"
    path = path.expanduser()
    if path.is_dir():
        train, test = kaggle_pair(path)
    elif path.is_file():
        train, test = path, None
    else:
        raise DataFormatError(f"{path}: no such CSV file or folder")
    meta: dict[str, str] = {}
    # Checked on every load, not only when the cache is filled: the warning must not vanish on a cache hit.
    if test is not None and not _has_label(test, _header(test)[0]):
        warnings.warn(
            f"{test} has no '{LABEL}' column, so it cannot score a model: it is for predictions "
            f"('imgbench predict'); holding out {options.test_fraction:.0%} of {train.name} as the test split instead",
            stacklevel=3,  # the caller of load_dataset
        )
        meta["unlabelled_test"] = str(test)
        test = None
    files = [f for f in (train, test) if f is not None]
    split = {"test_fraction": options.test_fraction, "seed": options.split_seed}
    key = cache.fingerprint(train.parent, files, split)
    hit = cache.load("csv", key)
    if hit is None:
        X, y = read_csv(train)
        if y is None:
            raise DataFormatError(
                f"{train}: expected a '{LABEL}' first column for training, found none "
                "(a CSV without labels is for 'imgbench predict')"
            )
        if test is not None:
            X_te, y_te = read_csv(test)
            assert y_te is not None, "a test file without labels was set aside above"
        else:
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
        meta,
    )


FORMAT = DatasetFormat(
    name="csv",
    usage=f"csv:PATH (Kaggle CSV, label,pixel0,..: a file, or a folder with {TRAIN} or NAME_{TRAIN} and its test file)",
    read=_read,
    prefix=True,
)

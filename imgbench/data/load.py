"""``load_dataset``: one entry point for every dataset imgbench reads.

Names: ``mnist``, ``fashion-mnist``, ``cifar10``, ``digits``, and
``folder:PATH`` / ``csv:PATH`` for a user's own data.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import DataFormatError, DatasetNotFoundError, DownloadError, ImgbenchError
from . import cache, cifar, csvfile, idx
from .catalog import ALIASES, CATALOG, DatasetInfo
from .dataset import Dataset
from .download import download_dataset
from .folder import read_image_folder
from .locate import cifar_layout, download_root, expected_files, find_dataset, idx_file, search_roots
from .splits import stratified_split


def resolve_name(name: str) -> str:
    """Canonical dataset name (aliases and case folded); ``folder:``/``csv:`` kept as given."""
    if name.startswith(("folder:", "csv:")):
        return name
    key = name.lower()
    key = ALIASES.get(key, key)
    if key not in CATALOG:
        raise ImgbenchError(f"unknown dataset '{name}': expected one of {', '.join(CATALOG)}, folder:PATH or csv:PATH")
    return key


def short_name(name: str) -> str:
    """A dataset name fit for run names and tables: ``mnist`` for ``mnist``, ``cifar10-jpg`` for
    ``folder:/data/cifar10-jpg``."""
    return name.split(":", 1)[-1].rstrip("/").split("/")[-1]


def _not_found(info: DatasetInfo, root, reason: str) -> DatasetNotFoundError:
    dirs = "\n".join(f"  {r / info.name}" for r in search_roots(root))
    files = "\n".join(f"  {f}" for f in expected_files(info))
    return DatasetNotFoundError(
        f"dataset '{info.name}' not found ({reason}). Searched:\n{dirs}\n"
        f"Expected these files in one of them:\n{files}\n"
        f"Copy them there, pass --root DIR, or run 'imgbench data download {info.name}' when online."
    )


def _is_offline(offline: bool) -> bool:
    return offline or os.environ.get("IMGBENCH_OFFLINE", "").lower() in {"1", "true", "yes"}


def locate_or_download(info: DatasetInfo, root=None, offline: bool = False) -> Path:
    """Folder holding ``info``'s files, downloading them when allowed and needed."""
    folder = find_dataset(info, root)
    if folder is not None:
        return folder
    if _is_offline(offline):
        raise _not_found(info, root, "offline mode: no download attempted")
    try:
        return download_dataset(info, download_root(root))
    except DownloadError as exc:
        raise _not_found(info, root, f"download failed: {exc}") from None


def _load_idx(info: DatasetInfo, folder: Path) -> Dataset:
    tr_img, tr_lab, te_img, te_lab = (idx_file(folder, f.name) for f in info.files)
    X_train, y_train = idx.images_labels(idx.read_idx(tr_img), idx.read_idx(tr_lab), tr_img, tr_lab)
    X_test, y_test = idx.images_labels(idx.read_idx(te_img), idx.read_idx(te_lab), te_img, te_lab)
    return Dataset(info.name, X_train, y_train, X_test, y_test, info.class_names, str(folder))


def _load_cifar(info: DatasetInfo, folder: Path) -> Dataset:
    kind, sub = cifar_layout(folder)
    reader = cifar.read_python_batches if kind == "py" else cifar.read_binary_batches
    X_train, y_train, X_test, y_test, names = reader(sub)
    return Dataset(info.name, X_train, y_train, X_test, y_test, names, str(sub))


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel intensities are 0..16; scale to the 0..255 of every other dataset.
    X = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    y = bunch.target.astype(np.int64)
    # A fixed split (seed 0) so every run and engine is scored on the same 360 images.
    tr, te = stratified_split(y, 0.2, seed=0)
    return Dataset("digits", X[tr], y[tr], X[te], y[te], tuple(str(d) for d in range(10)), "scikit-learn (embedded)")


def _load_csv(path: Path, test_fraction: float, split_seed: int) -> Dataset:
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
    key = cache.fingerprint(files[0].parent, files, {"test_fraction": test_fraction, "seed": split_seed})
    hit = cache.load("csv", key)
    if hit is None:
        X, y = csvfile.read_csv(train)
        if y is None:
            raise DataFormatError(
                f"{train}: expected a 'label' first column for training, found none "
                "(a CSV without labels can be used with 'imgbench predict')"
            )
        X_te = y_te = None
        if test is not None and test.is_file():
            X_te, y_te = csvfile.read_csv(test)
            if y_te is None:  # Kaggle's unlabelled test.csv: not usable for scoring
                warnings.warn(f"{test} has no label column; holding out part of {train.name} instead", stacklevel=3)
                X_te = None
        if X_te is None:
            tr, te = stratified_split(y, test_fraction, split_seed)
            X, y, X_te, y_te = X[tr], y[tr], X[te], y[te]
        hit = {"X_train": X, "y_train": y, "X_test": X_te, "y_test": y_te}
        cache.save("csv", key, hit)
    k = int(max(hit["y_train"].max(), hit["y_test"].max())) + 1
    return Dataset(
        f"csv:{path}",
        hit["X_train"],
        hit["y_train"],
        hit["X_test"],
        hit["y_test"],
        tuple(str(i) for i in range(k)),
        str(path),
    )


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    image_size: int | None = None,
    strict: bool = False,
    offline: bool = False,
    test_fraction: float = 0.2,
    split_seed: int = 0,
) -> Dataset:
    """Load a dataset by name as a :class:`Dataset` of uint8 NCHW images.

    ``root`` is searched first for named datasets; missing files are
    downloaded unless ``offline`` (or ``$IMGBENCH_OFFLINE=1``).  For
    ``folder:PATH``, ``image_size`` resizes every image and ``strict`` makes
    unreadable files an error instead of a warning.  Folders and CSVs without
    their own test split are split with ``test_fraction`` and ``split_seed``.
    """
    name = resolve_name(name)
    if name.startswith("folder:"):
        path = Path(name.removeprefix("folder:"))
        X_tr, y_tr, X_te, y_te, names, meta = read_image_folder(
            path, image_size=image_size, strict=strict, test_fraction=test_fraction, split_seed=split_seed
        )
        return Dataset(name, X_tr, y_tr, X_te, y_te, names, str(path.expanduser()), meta)
    if name.startswith("csv:"):
        return _load_csv(Path(name.removeprefix("csv:")), test_fraction, split_seed)
    if name == "digits":
        return _load_digits()
    info = CATALOG[name]
    folder = locate_or_download(info, root, offline)
    return _load_cifar(info, folder) if info.layouts else _load_idx(info, folder)

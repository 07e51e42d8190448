"""``load_dataset``: one entry point for every dataset imgbench reads.

Names: ``mnist``, ``fashion-mnist``, ``cifar10``, ``digits`` (the catalog),
and ``folder:PATH`` / ``csv:PATH`` for a user's own data (the path formats of
:data:`~imgbench.data.formats.FORMATS`); ``NAME[5-9]`` keeps those classes and
``NAME@N`` the first N training images of each class (see :mod:`.names`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DatasetNotFoundError, DownloadError
from .catalog import CATALOG, DatasetInfo
from .dataset import Dataset
from .download import download_dataset
from .formats import LoadOptions
from .locate import download_root, expected_files, find_dataset, search_roots
from .names import format_of, parse_selection, resolve_name, short_name
from .selection import select

__all__ = ["load_dataset", "locate_or_download", "resolve_name", "short_name"]

Root = str | os.PathLike[str] | None


def _not_found(info: DatasetInfo, root: Root, reason: str) -> DatasetNotFoundError:
    dirs = "\n".join(f"  {r / info.name}" for r in search_roots(root))
    files = "\n".join(f"  {f}" for f in expected_files(info))
    return DatasetNotFoundError(
        f"dataset '{info.name}' not found ({reason}). Searched:\n{dirs}\n"
        f"Expected these files in one of them:\n{files}\n"
        f"Copy them there, pass --root DIR, or run 'imgbench data download {info.name}' when online."
    )


def _is_offline(offline: bool) -> bool:
    return offline or os.environ.get("IMGBENCH_OFFLINE", "").lower() in {"1", "true", "yes"}


def locate_or_download(info: DatasetInfo, root: Root = None, offline: bool = False) -> Path:
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


def load_dataset(
    name: str,
    root: Root = None,
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
    selection = parse_selection(resolve_name(name))
    name = selection.base
    fmt = format_of(name)
    options = LoadOptions(image_size=image_size, strict=strict, test_fraction=test_fraction, split_seed=split_seed)
    if fmt.prefix:
        ds = fmt.read(name, Path(fmt.location(name)), options)
    else:
        info = CATALOG[name]
        folder = locate_or_download(info, root, offline) if fmt.holds is not None else None
        ds = fmt.read(name, folder, options)
    return select(ds, selection)

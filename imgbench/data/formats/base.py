"""What a dataset format is: the entry type of the :data:`~imgbench.data.formats.FORMATS` table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ...errors import DataFormatError
from ..catalog import CATALOG, DatasetInfo
from ..dataset import Dataset


@dataclass(frozen=True)
class LoadOptions:
    """The options of :func:`~imgbench.data.load_dataset` that change what a format reads.

    ``image_size`` and ``strict`` concern image folders; ``test_fraction`` and
    ``split_seed`` split data that comes without its own test split.
    """

    image_size: int | None = None
    strict: bool = False
    test_fraction: float = 0.2
    split_seed: int = 0


# read(name, path, options): the dataset's canonical name; for a path format the PATH of
# ``<format>:PATH``, for a named dataset the folder that holds its files (None when it needs none).
Reader = Callable[[str, Path | None, LoadOptions], Dataset]


def _no_files(info: DatasetInfo) -> list[str]:
    return []


@dataclass(frozen=True)
class DatasetFormat:
    """One way of storing a dataset: how it is named, found, read and shown.

    A *path format* (``prefix=True``) reads a user's own data, named
    ``<name>:PATH`` (``folder:~/photos``).  Any other format serves the named
    datasets whose catalog entry says ``format="<name>"``: ``holds`` tells
    whether a folder has every file of such a dataset (None: the data ships
    with a library and no folder is looked for), and ``expected_files`` lists
    those files for the message shown when none is found.
    """

    name: str
    usage: str  # one line for help texts and error messages
    read: Reader
    prefix: bool = False
    holds: Callable[[Path, DatasetInfo], bool] | None = None
    expected_files: Callable[[DatasetInfo], list[str]] = _no_files

    def location(self, name: str) -> str:
        """The PATH of ``<format>:PATH``; a named dataset's name unchanged."""
        return name.partition(":")[2] if self.prefix else name

    def absolute_name(self, name: str) -> str:
        """``name`` with its PATH made absolute, so a run record works from any directory."""
        if not self.prefix:
            return name
        return f"{self.name}:{Path(self.location(name)).expanduser().resolve()}"

    def short_name(self, name: str) -> str:
        """A name fit for run names and tables: the last component of PATH, or the dataset's name."""
        return self.location(name).rstrip("/").split("/")[-1]


Found = TypeVar("Found")


def folder_format(
    name: str,
    usage: str,
    find: Callable[[Path, DatasetInfo], Found | None],
    read_found: Callable[[DatasetInfo, Path, Found], Dataset],
    expected_files: Callable[[DatasetInfo], list[str]],
) -> DatasetFormat:
    """The format of named datasets whose files lie in one folder (IDX, CIFAR-10).

    ``find(folder, info)`` looks for the dataset's files in ``folder``: what it finds (paths, a
    layout), or None when some are missing, so the folder does not hold the dataset.
    ``read_found(info, folder, found)`` reads them; ``expected_files`` lists them for messages.
    """

    def holds(folder: Path, info: DatasetInfo) -> bool:
        return find(folder, info) is not None

    def read(dataset: str, folder: Path | None, options: LoadOptions) -> Dataset:
        info = CATALOG[dataset]
        found = find(folder, info) if folder is not None else None
        if folder is None or found is None:
            raise DataFormatError(f"{folder}: expected the files of {info.name}: {', '.join(expected_files(info))}")
        return read_found(info, folder, found)

    return DatasetFormat(name, usage, read, holds=holds, expected_files=expected_files)

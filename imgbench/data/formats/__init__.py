"""Every dataset format imgbench reads, in one table.

A *path format* reads a user's own data, named ``<format>:PATH``
(``folder:~/photos``, ``csv:train.csv``).  The other formats serve the named
datasets of the catalog: each :class:`~imgbench.data.catalog.DatasetInfo`
says which format its files are in.  Adding a format is one module here that
defines ``FORMAT`` (a :class:`DatasetFormat`) plus its line in :data:`FORMATS`.
"""

from __future__ import annotations

from . import cifar, csvfile, embedded, folder, idx
from .base import DatasetFormat, LoadOptions

FORMATS: dict[str, DatasetFormat] = {
    fmt.name: fmt
    for fmt in (
        idx.FORMAT,
        cifar.FORMAT,
        embedded.FORMAT,
        folder.FORMAT,
        csvfile.FORMAT,
    )
}


def path_format(name: str) -> DatasetFormat | None:
    """The path format ``name`` is written in (``folder`` for ``folder:PATH``); None for a named dataset."""
    head, sep, _ = name.partition(":")
    fmt = FORMATS.get(head) if sep else None
    return fmt if fmt is not None and fmt.prefix else None


def path_formats() -> list[DatasetFormat]:
    """The formats named ``<format>:PATH``, in table order."""
    return [fmt for fmt in FORMATS.values() if fmt.prefix]


__all__ = ["FORMATS", "DatasetFormat", "LoadOptions", "path_format", "path_formats"]

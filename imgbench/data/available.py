"""The named datasets as ``imgbench data list`` shows them, and downloading one by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ImgbenchError
from .catalog import CATALOG
from .download import download_dataset
from .load import resolve_name
from .locate import download_root, find_dataset


def dataset_table(root: str | None = None) -> list[dict[str, Any]]:
    """Every named dataset: its image shape, class count, title and where it is available here."""
    rows = []
    for info in CATALOG.values():
        if info.name == "digits":
            where = "embedded (scikit-learn)"
        else:
            folder = find_dataset(info, root)
            where = str(folder) if folder else f"not found (imgbench data download {info.name})"
        rows.append(
            {
                "name": info.name,
                "image_shape": list(info.image_shape),
                "num_classes": len(info.class_names),
                "available": where,
                "title": info.title,
            }
        )
    return rows


def download_named(name: str, root: str | None = None) -> tuple[str, Path]:
    """Download the named dataset ``name`` into ``root/<name>/`` (default: the user cache).

    Returns the canonical name and the folder; a dataset without mirrors is an error listing those with.
    """
    info = CATALOG.get(resolve_name(name))
    if info is None or not info.mirrors:
        raise ImgbenchError(
            f"'{name}' is not downloadable: named datasets with mirrors are "
            + ", ".join(n for n, i in CATALOG.items() if i.mirrors)
        )
    return info.name, download_dataset(info, download_root(root))

"""Where named datasets are looked for on disk.

Order: ``--root DIR``, ``$IMGBENCH_DATA``, the user cache
(``~/.cache/imgbench/datasets``), then Debian's read-only
``/usr/share/datasets`` (``apt install dataset-fashion-mnist``).  Each root
holds one sub-folder per dataset: ``<root>/mnist/``, ``<root>/fashion-mnist/``,
``<root>/cifar10/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import cache
from .catalog import DatasetInfo
from .formats import FORMATS

DEBIAN_ROOT = Path("/usr/share/datasets")


def search_roots(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The directories searched for named datasets, in order, without duplicates."""
    roots: list[Path] = []
    if root:
        roots.append(Path(root).expanduser())
    if os.environ.get("IMGBENCH_DATA"):
        roots.append(Path(os.environ["IMGBENCH_DATA"]).expanduser())
    roots += [cache.cache_home() / "datasets", DEBIAN_ROOT]
    seen: set[str] = set()
    out: list[Path] = []
    for r in roots:
        key = os.path.abspath(r)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def download_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Where a download goes: ``--root``, else ``$IMGBENCH_DATA``, else the user cache."""
    return search_roots(root)[0] if (root or os.environ.get("IMGBENCH_DATA")) else cache.cache_home() / "datasets"


def find_dataset(info: DatasetInfo, root: str | os.PathLike[str] | None = None) -> Path | None:
    """The first ``<root>/<name>`` folder that holds every file of ``info``; None if none does or it needs none."""
    holds = FORMATS[info.format].holds
    if holds is None:
        return None
    for base in search_roots(root):
        folder = base / info.name
        if folder.is_dir() and holds(folder, info):
            return folder
    return None


def expected_files(info: DatasetInfo) -> list[str]:
    """Human-readable list of the file names a dataset folder must hold."""
    return FORMATS[info.format].expected_files(info)

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
from .catalog import TRAIN_TEST_NAMES, DatasetInfo

DEBIAN_ROOT = Path("/usr/share/datasets")


def search_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """The directories searched for named datasets, in order, without duplicates."""
    roots: list[Path] = []
    if root:
        roots.append(Path(root).expanduser())
    if os.environ.get("IMGBENCH_DATA"):
        roots.append(Path(os.environ["IMGBENCH_DATA"]).expanduser())
    roots += [cache.cache_home() / "datasets", DEBIAN_ROOT]
    seen, out = set(), []
    for r in roots:
        key = os.path.abspath(r)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def download_root(root: str | os.PathLike | None = None) -> Path:
    """Where a download goes: ``--root``, else ``$IMGBENCH_DATA``, else the user cache."""
    return search_roots(root)[0] if (root or os.environ.get("IMGBENCH_DATA")) else cache.cache_home() / "datasets"


def idx_file(folder: Path, name: str) -> Path | None:
    """``name`` (``*.gz``) in ``folder``, or its decompressed twin; None if neither exists."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def cifar_layout(folder: Path) -> tuple[str, Path] | None:
    """``("py"|"bin", batch_folder)`` for a CIFAR-10 folder in either canonical layout."""
    for sub in (folder / "cifar-10-batches-py", folder):
        if all((sub / n).is_file() for n in TRAIN_TEST_NAMES):
            return "py", sub
    for sub in (folder / "cifar-10-batches-bin", folder):
        if all((sub / f"{n}.bin").is_file() for n in TRAIN_TEST_NAMES):
            return "bin", sub
    return None


def find_dataset(info: DatasetInfo, root=None) -> Path | None:
    """The first ``<root>/<name>`` folder that holds every file of ``info``."""
    for base in search_roots(root):
        folder = base / info.name
        if not folder.is_dir():
            continue
        if info.layouts:
            if cifar_layout(folder):
                return folder
        elif info.files and all(idx_file(folder, f.name) for f in info.files):
            return folder
    return None


def expected_files(info: DatasetInfo) -> list[str]:
    """Human-readable list of the file names a dataset folder must hold."""
    if info.layouts:
        return [
            f"{info.layouts[0]}/" + ", ".join(TRAIN_TEST_NAMES) + " (+ batches.meta)",
            f"or {info.layouts[1]}/" + ", ".join(f"{n}.bin" for n in TRAIN_TEST_NAMES),
        ]
    return [f.name for f in info.files]

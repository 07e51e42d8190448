"""Where imgbench keeps downloads and decoded data, and the decoded-data cache.

Decoding 60,000 JPEGs takes a while; the result is kept as an uncompressed
``.npz`` (fast to load) named after a fingerprint of every source file's
relative path, size and modification time, plus the options that change the
decoded pixels.  Touching, adding, removing or resizing any file changes the
fingerprint, so a stale cache is never read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..fileio import atomic_write

CACHE_FORMAT = 1  # bump when the decoded layout changes


def cache_home() -> Path:
    """``$IMGBENCH_CACHE``, else ``$XDG_CACHE_HOME/imgbench``, else ``~/.cache/imgbench``."""
    if os.environ.get("IMGBENCH_CACHE"):
        return Path(os.environ["IMGBENCH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "imgbench"


def fingerprint(root: Path, files: Iterable[Path], options: Mapping[str, object]) -> str:
    """Hash of relative names, sizes and mtimes of ``files`` plus ``options``."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": CACHE_FORMAT, **options}, sort_keys=True).encode())
    prefix = len(str(root)) + 1
    for f in files:
        st = os.stat(f)
        h.update(f"{str(f)[prefix:]}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def _path(kind: str, key: str) -> Path:
    return cache_home() / "decoded" / f"{kind}-{key}.npz"


def load(kind: str, key: str) -> dict[str, npt.NDArray[Any]] | None:
    """Arrays cached under ``key``, or None when absent or unreadable."""
    path = _path(kind, key)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError):
        return None  # a damaged cache entry is simply rebuilt


def save(kind: str, key: str, arrays: Mapping[str, npt.NDArray[Any]]) -> Path | None:
    """Store arrays under ``key`` atomically; a read-only cache is not an error."""
    path = _path(kind, key)
    try:
        with atomic_write(path, "wb") as fh:
            # Plain arrays only: the cache is read back without pickle, so refuse to write one.
            np.savez(fh, allow_pickle=False, **arrays)
    except OSError:
        return None
    return path

"""``imgbench data verify``: are a dataset's files complete and the canonical content?"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import ImgbenchError
from .catalog import CATALOG
from .formats.idx import idx_file, read_bytes_maybe_gzip
from .load import load_dataset, locate_or_download, resolve_name


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_dataset(
    name: str, root: str | os.PathLike[str] | None = None, offline: bool = True
) -> list[tuple[str, bool, str]]:
    """Checks as ``(what, ok, detail)``; a named dataset's files are checked against its checksums."""
    name = resolve_name(name)
    checks: list[tuple[str, bool, str]] = []
    info = CATALOG.get(name)
    if info is not None and info.files:
        folder = locate_or_download(info, root, offline=offline)
        for f in info.files:
            path = idx_file(folder, f.name)
            if path is None:
                checks.append((str(folder / f.name), False, "missing: re-download it"))
            elif _sha256_file(path) == f.sha256:
                checks.append((str(path), True, "SHA-256 matches the published file"))
            elif f.content_sha256 and hashlib.sha256(read_bytes_maybe_gzip(path)).hexdigest() == f.content_sha256:
                checks.append((str(path), True, "content matches the published file (recompressed copy)"))
            else:
                checks.append((str(path), False, "checksum differs from the published file: re-download it"))
    try:
        ds = load_dataset(name, root, offline=offline, strict=True)
    except ImgbenchError as exc:
        checks.append((name, False, str(exc)))
        return checks
    expected = info.split_sizes if info is not None else None
    counts = (len(ds.X_train), len(ds.X_test))
    detail = f"{counts[0]} train / {counts[1]} test images of {'x'.join(map(str, ds.image_shape))}"
    if expected is not None and counts != expected:
        detail += f"; expected {expected[0]} / {expected[1]}"
    checks.append((f"{name} decoded", expected is None or counts == expected, detail))
    return checks

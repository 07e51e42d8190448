"""``imgbench data verify``: are a dataset's files complete and the canonical content?"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import ImgbenchError
from .catalog import CATALOG
from .idx import read_bytes_maybe_gzip
from .load import load_dataset, locate_or_download, resolve_name

EXPECTED_COUNTS = {"mnist": (60000, 10000), "fashion-mnist": (60000, 10000), "cifar10": (50000, 10000)}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_dataset(name: str, root=None, offline: bool = True) -> list[tuple[str, bool, str]]:
    """Checks as ``(what, ok, detail)``; a named dataset's files are checked against its checksums."""
    name = resolve_name(name)
    checks: list[tuple[str, bool, str]] = []
    info = CATALOG.get(name)
    if info is not None and info.files:
        folder = locate_or_download(info, root, offline=offline)
        for f in info.files:
            path = next(p for p in (folder / f.name, folder / f.name.removesuffix(".gz")) if p.is_file())
            if _sha256_file(path) == f.sha256:
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
    expected = EXPECTED_COUNTS.get(name)
    counts = (len(ds.X_train), len(ds.X_test))
    ok = expected is None or counts == expected
    detail = f"{counts[0]} train / {counts[1]} test images of {'x'.join(map(str, ds.image_shape))}"
    if not ok:
        detail += f"; expected {expected[0]} / {expected[1]}"
    checks.append((f"{name} decoded", ok, detail))
    return checks

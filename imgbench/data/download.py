"""Downloading named datasets with pooch: checksummed, mirrored, atomic.

pooch streams each file to a temporary name in the destination folder and
renames it only once its SHA-256 matches, so an interrupted or corrupted
transfer never leaves a partial file under the real name.  Mirrors are tried
in order; the first good copy wins.
"""

from __future__ import annotations

import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import DownloadError
from .catalog import DatasetInfo, RemoteFile

TIMEOUT_S = 30


def fetch(file: RemoteFile, mirrors: Sequence[str], folder: Path, progress: bool | None = None) -> Path:
    """Download ``file`` into ``folder`` from the first mirror that serves it intact."""
    import pooch

    if progress is None:
        progress = sys.stderr.isatty()
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + file.name
        try:
            path = pooch.retrieve(
                url,
                known_hash=f"sha256:{file.sha256}",
                fname=file.name,
                path=folder,
                downloader=pooch.HTTPDownloader(progressbar=progress, timeout=TIMEOUT_S),
            )
            return Path(path)
        except Exception as exc:  # noqa: BLE001 - any failure moves on to the next mirror
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "SHA256 hash" in str(exc):
                msg = "checksum mismatch (the server sent a different or damaged file)"
            failures.append(f"{url}: {msg}")
    raise DownloadError(
        f"could not download {file.name} (expected SHA-256 {file.sha256[:16]}...): " + "; ".join(failures)
    )


def _safe_extract(archive: Path, dest: Path) -> None:
    with tarfile.open(archive) as tar:
        # The 'data' filter refuses absolute paths, '..', links out of dest and devices.
        tar.extractall(dest, filter="data")


def download_dataset(
    info: DatasetInfo, root: Path, mirrors: Sequence[str] | None = None, progress: bool | None = None
) -> Path:
    """Download every file of ``info`` into ``root/<name>`` and return that folder."""
    folder = root / info.name
    mirrors = tuple(mirrors or info.mirrors)
    if not mirrors:
        raise DownloadError(f"{info.name} is not downloadable: it ships with its library")
    for f in info.files:
        fetch(f, mirrors, folder, progress)
    if info.archive is not None:
        archive = fetch(info.archive, mirrors, folder, progress)
        _safe_extract(archive, folder)
    return folder

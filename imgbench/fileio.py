"""Atomic file writes (a reader never sees a half-written file) and the JSON/YAML readers and writers.

Data is written to a temporary file in the destination directory (same
filesystem, so the final ``os.replace`` is atomic) and renamed into place only
after it has been flushed to disk.  On any error the temporary file is removed
and the previous version of the destination, if any, is untouched.  A full
disk or a read-only folder becomes one :class:`ImgbenchError` naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import ImgbenchError


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once: os.umask can only be read by setting it, and doing that on every write would briefly
# give files created meanwhile by other threads the wrong permissions.
_UMASK = _read_umask()

# What a full disk, a quota, a read-only file system or a forbidden folder raise: the user can act on these.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM})


def disk_error(exc: BaseException) -> OSError | None:
    """The full-disk or read-only :class:`OSError` behind ``exc``, if any.

    Looks through the exceptions ``exc`` was raised from or while handling: torch.save, for one,
    reports a failed write as a RuntimeError raised while handling the OSError.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError) and current.errno in DISK_ERRNOS:
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn a full disk or a read-only folder met in the block into one :class:`ImgbenchError` naming ``path``."""
    try:
        yield
    except ImgbenchError:
        raise
    except Exception as exc:
        os_error = disk_error(exc)
        if os_error is None:
            raise
        raise ImgbenchError(f"{path}: cannot write ({os_error.strerror or os_error})") from None


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file, or a folder's entries (a rename inside it), to disk.

    Windows cannot open a folder for this; its renames are flushed by the file system.
    """
    if os.name == "nt" and os.path.isdir(path):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_temporary(name: str) -> bool:
    """Is ``name`` a temporary file of an unfinished atomic write (``.<name>.<random>.tmp``, ``.tmp-*``)?"""
    return name.startswith(".") and (name.endswith(".tmp") or name.startswith(".tmp-"))


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the block succeeds."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            # mkstemp creates 0600; give the file the permissions an ordinary open() would have.
            os.chmod(tmp, 0o666 & ~_UMASK)
            with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    with atomic_write(path, "w") as fh:
        fh.write(text)


def _json_default(o: object) -> object:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(path: str | os.PathLike, obj: object) -> None:
    """``obj`` as indented JSON (NumPy scalars and arrays converted), atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """The parsed JSON in ``path``; an unreadable or malformed file is an :class:`ImgbenchError` naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImgbenchError(f"{path}: cannot read ({exc})") from None


def write_yaml(path: str | os.PathLike, obj: object) -> None:
    """``obj`` as block-style YAML in insertion order, atomically."""
    import yaml

    atomic_write_text(path, yaml.safe_dump(obj, sort_keys=False))


def read_yaml(
    path: str | os.PathLike, what: str = "settings", error: type[ImgbenchError] = ImgbenchError
) -> dict[str, Any]:
    """The mapping in a YAML (or JSON) file; anything else is an ``error`` naming the file.

    ``yaml.safe_load``: plain data only, never code.  ``what`` names the content in messages.
    """
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot read {what}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of {what}, found {type(data).__name__}")
    return data

"""Locks that say who owns a study folder or a run, and vanish with their owner.

A lock is an advisory ``flock`` on a small file that records the holder's
process id, host, start time and command.  The operating system drops it the
moment the holder's process ends, however it ends (kill -9 included), so a lock
is never stale and nothing has to guess from missing files or ages whether a
writer is still alive.

- ``<study>/study.lock``: held by ``imgbench compare`` for the whole study;
- ``<runs_dir>/.<name>.lock``: held by whoever trains, resumes or removes the
  run ``<runs_dir>/<name>``.  It lives beside the run directory, not in it, so a
  run can be deleted and created again under the same lock; and it is never
  deleted, since a process may be waiting on it.

Within one process a lock is re-entrant: ``compare`` holds a run's lock while
:func:`~imgbench.runs.runner.train_run` takes it again.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import ImgbenchError
from ..fileio import writing

try:
    import fcntl
except ImportError:  # Windows: byte-range locks on the file's first byte do the same job
    fcntl = None  # type: ignore[assignment]
    import msvcrt

STUDY_LOCK = "study.lock"
_POLL_SECONDS = 0.1

# Locks this process holds: resolved path -> [file descriptor, depth].
_HELD: dict[str, list[int]] = {}


class LockHeldError(ImgbenchError):
    """Another live process holds the lock."""


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` without waiting; False when another process holds it."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except BlockingIOError:
        return False
    except PermissionError:  # what msvcrt raises for a byte another process has locked
        if fcntl is not None:
            raise
        return False


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _command() -> str:
    """This process's command line, as a user would type it."""
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    if program in ("__main__.py", "imgbench"):  # python -m imgbench, or the console script
        program = "imgbench"
    return " ".join([program, *sys.argv[1:]])


class FileLock:
    """An exclusive lock on ``path`` for ``what`` (words for messages: "study folder studies/x")."""

    def __init__(self, path: str | os.PathLike, what: str):
        self.path, self.what = Path(path), what
        self._key = os.path.realpath(self.path)
        self._taken = 0  # how often this object took the lock and has not let it go

    def holder(self) -> str:
        """Who holds the lock, as the holder recorded it (best effort: it may be changing hands)."""
        try:
            info = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            info = {}
        if not isinstance(info, dict) or "pid" not in info:
            return "another process"
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
        command = f" ({info['command']})" if info.get("command") else ""
        return f"process {info['pid']} on {info.get('host', '?')}{command}, since {since}"

    def acquire(self, timeout: float | None = 0, on_wait: Callable[[str], object] | None = None) -> FileLock:
        """Take the lock; wait up to ``timeout`` seconds for it (None: as long as it takes).

        ``on_wait(holder)`` is called once if the lock is busy and we wait.  A lock still busy
        after ``timeout`` is a :class:`LockHeldError` naming the process that holds it.
        """
        if self._key in _HELD:  # this process holds it already
            _HELD[self._key][1] += 1
            self._taken += 1
            return self
        with writing(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            deadline = None if timeout is None else time.monotonic() + timeout
            waited = False
            while not _try_lock(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    raise LockHeldError(f"{self.what} is in use by {self.holder()}")
                if not waited and on_wait is not None:
                    on_wait(self.holder())
                waited = True
                time.sleep(_POLL_SECONDS)
            record = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": time.time(),
                "command": _command(),
            }
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(record).encode())
        except BaseException:
            os.close(fd)
            raise
        _HELD[self._key] = [fd, 1]
        self._taken += 1
        return self

    def release(self) -> None:
        """Let go of one :meth:`acquire`; the outermost one in this process unlocks the file."""
        if self._taken == 0:
            return
        self._taken -= 1
        held = _HELD[self._key]
        held[1] -= 1
        if held[1] == 0:
            del _HELD[self._key]
            try:
                os.ftruncate(held[0], 0)  # no holder recorded: the file says the lock is free
                _unlock(held[0])
            finally:
                os.close(held[0])

    def __enter__(self) -> FileLock:
        return self if self._taken else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def run_lock(runs_dir: str | os.PathLike, name: str) -> FileLock:
    """The lock that makes a process the owner of the run ``runs_dir/name``."""
    return FileLock(Path(runs_dir) / f".{name}.lock", f"run {Path(runs_dir) / name}")


def study_lock(folder: str | os.PathLike) -> FileLock:
    """The lock ``imgbench compare`` holds on a study folder while it runs."""
    return FileLock(Path(folder) / STUDY_LOCK, f"study folder {folder}")

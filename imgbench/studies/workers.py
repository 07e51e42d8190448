"""Worker processes of a study: their share of the cores, and no life beyond their parent's.

(Ray workers get their share of the cores from :func:`limit_threads` too; Ray itself ends them with their
driver or their node.)

A worker whose parent has died (kill -9 included) must not go on training and
taking queued runs: it would race the next ``imgbench compare`` on the same
folder.  On Linux the kernel kills it the moment its parent goes
(``prctl(PR_SET_PDEATHSIG)``); everywhere, a watchdog thread sees within a
second that its parent process id has changed and ends the process.  Nothing
is lost: every file a run writes is committed atomically, and the next
``compare`` resumes the run from its last committed epoch.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_SECONDS = 0.5


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCH_SECONDS)
    os._exit(1)  # the parent is gone: no clean-up, as if killed (what is committed stays committed)


def die_with_parent(parent_pid: int) -> None:
    """End this process as soon as the process ``parent_pid`` (its parent) ends."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no usable libc: the watchdog alone does it
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the kernel was asked
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="imgbench-parent-watch", daemon=True).start()


def init_worker(threads: int, parent_pid: int) -> None:
    """Start a study worker: it dies with its parent and gets its share of the cores for BLAS, torch and TF."""
    die_with_parent(parent_pid)
    limit_threads(threads)


def limit_threads(threads: int) -> None:
    """Give this process ``threads`` cores for BLAS, OpenMP (torch) and TensorFlow (a local or a Ray worker)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)

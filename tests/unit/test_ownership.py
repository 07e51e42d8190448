"""Who owns a study folder or a run: locks that die with their holder, run names claimed under a lock,
and study workers that die with their parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from imgbench.errors import ImgbenchError
from imgbench.runs.lock import FileLock, LockHeldError, run_lock, study_lock
from imgbench.runs.rundir import claim_run_dir


def hold_in_child(path: Path, what: str = "x") -> subprocess.Popen:
    """A child process that takes the lock on ``path``, says so, and sleeps."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from imgbench.runs.lock import FileLock; "
            f"FileLock({str(path)!r}, {what!r}).acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "held"
    return child


def test_lock_is_reentrant_records_its_holder_and_is_freed(tmp_path):
    lock = study_lock(tmp_path)
    with lock:
        record = json.loads((tmp_path / "study.lock").read_text())
        assert record["pid"] == os.getpid() and record["host"] and record["started"] <= time.time()
        with study_lock(tmp_path):  # the same process may take it again
            pass
        assert (tmp_path / "study.lock").read_text()  # still held after the inner release
    assert (tmp_path / "study.lock").read_text() == ""  # released: no holder recorded
    child = hold_in_child(tmp_path / "study.lock")
    child.kill()
    child.wait()
    with study_lock(tmp_path):
        pass


def test_a_lock_held_elsewhere_names_its_holder_and_can_be_waited_for(tmp_path):
    path = tmp_path / "x.lock"
    child = hold_in_child(path)
    try:
        with pytest.raises(LockHeldError, match=rf"^thing is in use by process {child.pid} on .*, since "):
            FileLock(path, "thing").acquire()
        t = time.monotonic()
        with pytest.raises(LockHeldError):
            FileLock(path, "thing").acquire(timeout=0.5)
        assert time.monotonic() - t >= 0.5
        told: list[str] = []
        # The holder dies while we wait: the OS drops its lock at once, nothing is left stale.
        threading.Timer(0.5, os.kill, (child.pid, signal.SIGKILL)).start()
        FileLock(path, "thing").acquire(timeout=None, on_wait=told.append).release()
        assert len(told) == 1 and told[0].startswith(f"process {child.pid} on ")
    finally:
        child.kill()
        child.wait()


def test_claim_run_dir_takes_the_lock_and_exact_names_never_get_a_suffix(tmp_path):
    run, lock = claim_run_dir(tmp_path, "r")
    lock.release()
    assert run == tmp_path / "r" and run.is_dir()
    second, lock = claim_run_dir(tmp_path, "r")
    lock.release()
    assert second == tmp_path / "r-2"
    with pytest.raises(ImgbenchError, match="a run of this name exists already"):
        claim_run_dir(tmp_path, "r", exact=True)
    child = hold_in_child(tmp_path / ".s.lock")
    try:
        with pytest.raises(LockHeldError):  # another process is creating "s"
            claim_run_dir(tmp_path, "s", exact=True)
        other, lock = claim_run_dir(tmp_path, "s")
        lock.release()
        assert other == tmp_path / "s-2"
    finally:
        child.kill()
        child.wait()
    with pytest.raises(ImgbenchError, match="may contain only"):
        claim_run_dir(tmp_path, ".r.lock")
    assert run_lock(tmp_path, "r").path == tmp_path / ".r.lock"


@pytest.mark.parametrize("kernel", [True, False], ids=["prctl", "watchdog-only"])
def test_a_worker_dies_with_its_parent(tmp_path, kernel):
    """kill -9 of the parent: the worker is gone within seconds (Linux: the kernel; elsewhere: the watchdog)."""
    if kernel and not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    worker = (
        "import os, sys, time\n"
        f"sys.platform = sys.platform if {kernel} else 'elsewhere'\n"
        "from imgbench.studies.workers import die_with_parent\n"
        "die_with_parent(os.getppid())\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            f"w = subprocess.Popen([sys.executable, '-c', {worker!r}])\n"
            "print(w.pid, flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    worker_pid = int(parent.stdout.readline())
    # The worker shares the parent's stdout: wait until it has armed die_with_parent (a fixed sleep was too
    # short on a loaded machine, where importing imgbench alone can take over a second).
    assert parent.stdout.readline().strip() == "ready"
    parent.kill()
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline and _running(worker_pid):
        time.sleep(0.05)
    assert not _running(worker_pid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"

"""Executors: where the runs of a study (``compare``) or of a search (``tune``) train.

- ``local`` (the default): in this process, or in ``--workers`` worker processes of this machine that die with
  it (:mod:`.workers`);
- ``ray``: as Ray tasks, on a local Ray started for the occasion with this machine's CPUs, or on an existing
  cluster (``--ray-address``); see :mod:`.ray_executor`.  Ray is imported only there.

Both give the study loops one interface, that of :class:`concurrent.futures.Executor` plus what a run needs:
:meth:`~LocalExecutor.share` gives a run its share of the cores (its ``threads``), ``submit`` starts a job and
returns a :class:`~concurrent.futures.Future`, ``slots`` says how many jobs to keep in flight (None: as many as
the cluster takes), ``owner_grace`` how long a job waits for a run's previous owner to let go of its lock, and
``about`` is a line for the progress output (or empty).

Workers only train into run directories, each holding its run's lock (:mod:`imgbench.runs.lock`); the process
that called ``compare`` or ``tune`` alone reads the results, and reindexes the runs directory at the end.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from multiprocessing import get_context
from typing import Any, Protocol

from ..errors import ImgbenchError
from ..settings import RunSettings
from .workers import init_worker

# How long a run's owner gets to let go before the job stops: a worker of a killed compare is killed with its
# parent within a second; anything longer is another process.
OWNER_GRACE_SECONDS = 15.0


class Executor(Protocol):
    """What the study loops need of an executor (see the module docstring)."""

    slots: int | None
    owner_grace: float
    about: str

    def share(self, settings: RunSettings, among: int | None = None) -> RunSettings: ...

    def submit(self, fn: Callable[..., Any], *args: Any, run: RunSettings) -> Future: ...


def cores_per_run(workers: int) -> int:
    """Each of ``workers`` local worker processes' share of this machine's cores."""
    return max(1, (os.cpu_count() or 1) // workers)


class LocalExecutor:
    """Jobs run here, one at a time, or in ``workers`` spawned processes that die with this one."""

    owner_grace = OWNER_GRACE_SECONDS
    about = ""

    def __init__(self, workers: int, *, address: str | None = None, retries: bool = True):
        self.workers = workers
        self.slots = 1 if workers == 1 else None  # one at a time here; the pool queues the rest itself
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=get_context("spawn"),
                initializer=init_worker,
                initargs=(cores_per_run(self.workers), os.getpid()),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # running jobs finish; what they commit stays committed

    def share(self, settings: RunSettings, among: int | None = None) -> RunSettings:
        """``settings`` with a run's share of the cores when ``among`` runs (default: the workers) share them;
        a ``threads`` the run fixes stays.  One run at a time keeps the engine's own default."""
        among = among or self.workers
        if among > 1:
            settings.threads = settings.threads or cores_per_run(among)
        return settings

    @staticmethod
    def session(address: str | None = None) -> AbstractContextManager[object]:
        """Nothing to keep up between pools: worker processes start with each."""
        return nullcontext()

    def submit(self, fn: Callable[..., Any], *args: Any, run: RunSettings) -> Future:
        """Start ``fn(*args)`` in a worker process, or run it now in this one (a finished future)."""
        if self._pool is not None:
            return self._pool.submit(fn, *args)
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # reported through the future, as a worker process's error is
            future.set_exception(exc)
        return future


def _ray_executor() -> Any:
    from .ray_executor import RayExecutor

    return RayExecutor


# The executors by name (the choices of --executor): each a factory of (workers, address=, retries=).
EXECUTORS: dict[str, Callable[[], Any]] = {"local": lambda: LocalExecutor, "ray": _ray_executor}


def check_executor(name: str, address: str | None) -> None:
    """Fail early on an unknown executor, or a cluster address given to the local one."""
    from ..options import COMMAND_OPTIONS

    COMMAND_OPTIONS["executor"].check("--executor", name)
    if address and name != "ray":
        raise ImgbenchError(f"--ray-address {address} applies only with --executor ray")


@contextmanager
def open_executor(name: str, workers: int, *, address: str | None = None, retries: bool = True) -> Iterator[Any]:
    """The executor ``name`` for jobs that share the cores ``workers`` ways, open for the ``with`` block.

    ``retries``: a job lost with its worker (its Ray node died) is run again; for jobs that can take over
    what their lost predecessor committed (a study's runs resume from their last checkpoint).
    """
    check_executor(name, address)
    if workers < 1:
        raise ImgbenchError(f"--workers must be at least 1, found {workers}")
    with EXECUTORS[name]()(workers, address=address, retries=retries) as executor:
        yield executor


def executor_session(name: str, address: str | None = None) -> AbstractContextManager[object]:
    """Keep the executor's cluster up for the ``with`` block, so that the executors opened in it share one (one
    Ray for a search's trials and its final runs); nothing for the local executor."""
    check_executor(name, address)
    session: AbstractContextManager[object] = EXECUTORS[name]().session(address)
    return session

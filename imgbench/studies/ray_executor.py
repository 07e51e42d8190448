"""The ``ray`` executor: each run is a Ray task with its share of the CPUs, and a GPU where it trains on one.

With no ``--ray-address`` a local Ray is started with this machine's CPUs and stopped afterwards; with one, the
study runs on that cluster (and a Ray this process is connected to already, in a notebook or a test, is used as
it is).  Every node must see the study folder at the same path (on a real multi-node cluster: a shared file
system) and have imgbench installed: a task trains into its run directory there, holding the run's lock, and
returns what ``execute_run`` (or ``run_trial``) returns; the driver reads the results and writes the index.

A task lost with its node is run again by Ray (``max_retries``) when the job allows it, and
:func:`~imgbench.studies.compare.execute_run` resumes the run from its last committed epoch; the run's lock
makes sure no two attempts ever train it at once.  The lock is an ``flock``, dropped by the kernel of the host
whose process dies, and, on a shared file system, by its server once the dead client's lease expires (NFSv4:
90 s by default): hence the longer :data:`RAY_OWNER_GRACE_SECONDS`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from typing import Any

from ..errors import ImgbenchError
from ..settings import RunSettings
from .workers import limit_threads

MAX_RETRIES = 3  # attempts after the first, for a task whose worker or node died
# Ray declares a node dead after tens of seconds without heartbeats, and a shared file system releases a dead
# client's locks when its lease expires: a retried run waits that long for its lost predecessor's lock.
RAY_OWNER_GRACE_SECONDS = 300.0
# The runs exchange only settings and a short result through Ray's object store (each task loads its data from
# disk), so a local Ray announces 100 MB of shared memory, not its default of 30% of the RAM.
OBJECT_STORE_BYTES = 100 * 2**20
INSTALL = "pip install 'imgbench[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or an error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ImgbenchError(f"--executor ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


def _where(address: str | None) -> str:
    return address or "this machine (a local Ray)"


@contextmanager
def ray_session(address: str | None = None) -> Iterator[Any]:
    """Ray, connected for the ``with`` block: to the cluster at ``address``, or to a local Ray started with this
    machine's CPUs and stopped at the end; a connection this process has already is used as it is."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    quiet = {"include_dashboard": False, "logging_level": logging.WARNING}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, object_store_memory=OBJECT_STORE_BYTES, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ImgbenchError(f"cannot start or reach the Ray cluster at {_where(address)}: {exc}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _in_worker(threads: int, fn: Callable[..., Any], *args: Any) -> Any:
    """A Ray task: ``fn(*args)`` with the run's share of the cores for BLAS, torch and TensorFlow; the driver
    writes the run index (a node may be another host)."""
    from ..runs.index import leave_indexing_to_the_driver

    limit_threads(threads)
    leave_indexing_to_the_driver()
    return fn(*args)


class RayExecutor:
    """Jobs run as Ray tasks; ``slots`` is None: Ray runs as many at once as the cluster's CPUs (and GPUs) take."""

    slots = None
    owner_grace = RAY_OWNER_GRACE_SECONDS

    def __init__(self, workers: int, *, address: str | None = None, retries: bool = True):
        self.workers, self.address, self.retries = workers, address, retries
        self.about = self.where = ""
        self.cpus_per_run = self.node_cpus = self.gpus = 0
        self._ray: Any = None
        self._session = ExitStack()
        self._tasks: dict[Future, Any] = {}

    def __enter__(self) -> RayExecutor:
        ray = self._ray = self._session.enter_context(ray_session(self.address))
        self.where = ray.get_runtime_context().gcs_address
        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        cpus = [int(r.get("CPU", 0)) for r in nodes]
        self.node_cpus, self.gpus = max(cpus, default=0), int(sum(r.get("GPU", 0) for r in nodes))
        if self.node_cpus < 1:
            self._session.close()
            raise ImgbenchError(f"the Ray cluster at {self.where} has no node with a CPU to train on")
        # --workers N: the cluster's CPUs shared N ways, as the local executor shares this machine's cores
        # (a task runs on one node: at most the largest node's CPUs).
        self.cpus_per_run = max(1, min(sum(cpus) // self.workers, self.node_cpus))
        self.about = (
            f"Ray cluster at {self.where}: {len(nodes)} node{'s' * (len(nodes) != 1)}, {sum(cpus)} CPUs, "
            f"{self.gpus} GPUs; {self.cpus_per_run} CPU{'s' * (self.cpus_per_run != 1)} per run"
        )
        self._task = ray.remote(_in_worker)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:  # a failed study: the runs still queued or training are stopped
            for future, ref in list(self._tasks.items()):  # (finishing tasks leave it meanwhile)
                if not future.done():
                    self._ray.cancel(ref)
        self._tasks.clear()
        self._session.close()

    @staticmethod
    def session(address: str | None = None) -> Any:
        """One Ray connection for the ``with`` block (see :func:`ray_session`)."""
        return ray_session(address)

    def share(self, settings: RunSettings, among: int | None = None) -> RunSettings:
        """``settings`` with a run's share of the cluster's CPUs (``among`` is the local executor's; Ray shares
        by the tasks' resources); a ``threads`` the run fixes stays."""
        settings.threads = settings.threads or self.cpus_per_run
        return settings

    def _gpus(self, run: RunSettings) -> int:
        """1 for a run that trains on a GPU (device cuda, or auto with the torch engine where the cluster has
        one), else 0."""
        if run.device == "cuda" and not self.gpus:
            raise ImgbenchError(
                f"run {run.name} asks for --device cuda, but the Ray cluster at {self.where} has no GPU"
            )
        return int(run.device == "cuda" or (run.device == "auto" and run.engine == "torch" and self.gpus > 0))

    def submit(self, fn: Callable[..., Any], *args: Any, run: RunSettings) -> Future:
        """Start ``fn(*args)`` as a Ray task with the CPUs (and GPU) of the run ``run``; a future of its result."""
        threads = run.threads or self.cpus_per_run
        ref = self._task.options(
            num_cpus=min(threads, self.node_cpus),
            num_gpus=self._gpus(run),
            max_retries=MAX_RETRIES if self.retries else 0,
            retry_exceptions=False,  # an error of the run itself is not retried: it would fail again
            name=f"imgbench {run.name or fn.__name__}",
        ).remote(threads, fn, *args)
        future: Future = Future()
        future.set_running_or_notify_cancel()  # cancelled through Ray (see __exit__), not through the future
        self._tasks[future] = ref
        what = f"run {run.name}" if run.name else fn.__name__
        ref.future().add_done_callback(lambda done: self._settle(future, done, what))
        return future

    def _settle(self, future: Future, done: Future, what: str) -> None:
        """Pass a task's outcome on: the run's own error as it was raised, a lost task as an ImgbenchError."""
        self._tasks.pop(future, None)
        error = done.exception()
        if error is None:
            future.set_result(done.result())
            return
        exceptions = self._ray.exceptions
        if isinstance(error, exceptions.RayTaskError) and isinstance(error.cause, Exception):
            error = error.cause
        elif isinstance(error, exceptions.RayError):
            retried = f" (retried {MAX_RETRIES} times)" if self.retries else ""
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            error = ImgbenchError(f"{what} was lost with its Ray worker{retried}: {first}")
        future.set_exception(error)

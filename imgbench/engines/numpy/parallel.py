"""Split large array copies and additions over the CPU cores.

BLAS already runs matrix products on every core, but NumPy's copies and
elementwise loops run on one.  NumPy releases the GIL inside those loops, so
plain threads working on disjoint channel blocks of the same arrays run truly
in parallel: im2col's copy and col2im's additions get ~1.7x faster on 2 cores.
Small arrays stay serial (thread hand-off would cost more than it saves).
``IMGBENCH_NUMPY_THREADS=1`` turns this off.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

MIN_ELEMENTS = 1 << 18  # below ~1 MB of float32 a second thread does not pay off
_pool: ThreadPoolExecutor | None = None
_serial = False  # set while the cores are already busy with one half-batch each


def num_threads() -> int:
    """Threads used for large copies: ``$IMGBENCH_NUMPY_THREADS`` or the CPU count (1 inside :func:`serial`)."""
    if _serial:
        return 1
    return max(1, int(os.environ.get("IMGBENCH_NUMPY_THREADS", 0) or os.cpu_count() or 1))


@contextlib.contextmanager
def serial():
    """No splitting inside this block (the caller already keeps every core busy)."""
    global _serial
    previous, _serial = _serial, True
    try:
        yield
    finally:
        _serial = previous


def split_run(n: int, fn: Callable[[int, int], None], elements: int) -> None:
    """Call ``fn(start, stop)`` on contiguous parts of ``range(n)``, in parallel when worth it.

    ``elements`` is the size of the work, used to decide whether to split.
    The parts must touch disjoint memory.
    """
    global _pool
    parts = min(num_threads(), n)
    if parts <= 1 or elements < MIN_ELEMENTS:
        fn(0, n)
        return
    if _pool is None or _pool._max_workers < parts - 1:
        _pool = ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="imgbench-numpy")
    bounds = [(i * n) // parts for i in range(parts + 1)]
    futures = [_pool.submit(fn, a, b) for a, b in zip(bounds[1:-1], bounds[2:], strict=True)]
    fn(bounds[0], bounds[1])  # the calling thread takes the first part
    for f in futures:
        f.result()


_blas = None  # one threadpoolctl controller, made on first use (it scans the loaded libraries once)


@contextlib.contextmanager
def one_blas_thread():
    """BLAS limited to one thread inside this block: one threadpoolctl controller for the process, reused
    (``threadpool_limits()`` would rescan the loaded libraries on every call, about 0.5 ms)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    with _blas.limit(limits=1, user_api="blas"):
        yield


def split_images(n: int, fn: Callable[[int, int], None], elements: int) -> None:
    """:func:`split_run` for parts made of many small matrix products: BLAS on one thread while they run.

    A small product gains nothing from BLAS's own threads, and two parts each asking for every core would
    fight over them.  Inside :func:`serial` (BLAS already limited by the caller) the whole range runs here.
    """
    if _serial or min(num_threads(), n) <= 1 or elements < MIN_ELEMENTS:
        fn(0, n)
        return
    with one_blas_thread():
        split_run(n, fn, elements)

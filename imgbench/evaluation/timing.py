"""Timings that are not noise: warm up, repeat until enough work is done, report the median and the spread.

The median of many repetitions is what is reported: a competing process that takes the CPU now and then slows
some repetitions, which moves their mean but hardly their median.  The quartiles say how noisy the machine
was.  ``benchmarks/`` times with the same functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

RUN_MIN_SECONDS = 0.2
"""Work per measure when a finished run times its inference (twice per run: throughput, then latency).  On the
quick study's 8x8 images a batch takes from a fraction of a millisecond to a few, so 0.2 s is dozens to hundreds
of repetitions, enough for a stable median; one call of :func:`inference_speed` then takes about 0.45 s, some
8 s over the quick study's 18 runs, where 1 s per measure would add about 36 s for no better number.  Slow models
stop at ``min_repeats`` instead."""


class Predictor(Protocol):
    """Anything with an engine's ``predict_logits`` (evaluation never needs more of an engine)."""

    def predict_logits(self, X: npt.NDArray[Any], batch_size: int = 256) -> npt.NDArray[Any]: ...


def repeat_timing(
    fn: Callable[[], object],
    min_seconds: float = 1.0,
    min_repeats: int = 5,
    warmup: int = 1,
    max_repeats: int = 100_000,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Time ``fn``: ``warmup`` untimed calls first (allocation, tracing, kernel choice), then timed calls until
    they add up to ``min_seconds`` and number at least ``min_repeats`` (``max_repeats`` stops functions so fast
    that the timer's own cost would dominate).  Returns :func:`timing_summary` of the calls, ``warmup``, and
    ``times``, every call's seconds (for pooling repetitions measured in turns)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    total = 0.0
    while (len(times) < min_repeats or total < min_seconds) and len(times) < max_repeats:
        start = clock()
        fn()
        times.append(clock() - start)
        total += times[-1]
    return {**timing_summary(times), "warmup": warmup, "times": times}


def timing_summary(times: Sequence[float]) -> dict[str, Any]:
    """``median, q25, q75, min, max`` (seconds), ``repeats`` and ``total_seconds`` of some timed calls."""
    t = np.asarray(times, dtype=np.float64)
    q25, median, q75 = (float(v) for v in np.quantile(t, [0.25, 0.5, 0.75]))
    return {
        "median": median,
        "q25": q25,
        "q75": q75,
        "min": float(t.min()),
        "max": float(t.max()),
        "repeats": len(t),
        "total_seconds": float(t.sum()),
    }


def inference_speed(
    engine: Predictor,
    X: npt.NDArray[Any],
    batch_size: int = 256,
    min_seconds: float = RUN_MIN_SECONDS,
    min_repeats: int = 5,
) -> dict[str, Any]:
    """Throughput (images per CPU-second, one batch of ``batch_size`` images per call) and single-image CPU latency.

    Each is the median of repeated calls after a warm-up (:func:`repeat_timing`), with the quartiles:
    ``throughput_images_per_s`` (+ ``_q25``, ``_q75``), ``throughput_repeats``, ``batch_size`` (images per
    timed call: fewer when ``X`` is smaller), ``latency_ms`` (+ ``_q25``, ``_q75``) and ``latency_repeats``.

    Why CPU time, with BLAS on one thread: a run is timed once, at its end, on a machine that may be busy
    (other runs of the study, a benchmark, a browser).  Wall-clock time then measures the neighbours: three
    identical runs measured 2,722 to 644,165 images/s on a loaded machine.  The process's CPU time counts only
    the work the model did, so the seeds of one model agree (tests/integration/test_report_stats.py starts a
    competing process to check it), and one BLAS thread keeps spin-waiting helper threads out of the count.
    The figure is the cost of inference, not the wall-clock speed of an idle multi-core machine: the
    benchmarks/ scripts measure that, side by side, with :func:`repeat_timing`'s default wall clock.
    """
    from threadpoolctl import threadpool_limits

    batch = X[:batch_size]
    n = len(batch)
    one = X[:1]
    cpu = time.process_time
    with threadpool_limits(limits=1, user_api="blas"):
        through = repeat_timing(lambda: engine.predict_logits(batch, batch_size), min_seconds, min_repeats, clock=cpu)
        latency = repeat_timing(lambda: engine.predict_logits(one, 1), min_seconds, min_repeats, clock=cpu)
    return {
        "throughput_images_per_s": n / through["median"],
        "throughput_images_per_s_q25": n / through["q75"],  # the slower quarter of calls: lower throughput
        "throughput_images_per_s_q75": n / through["q25"],
        "throughput_repeats": through["repeats"],
        "batch_size": n,
        "latency_ms": latency["median"] * 1e3,
        "latency_ms_q25": latency["q25"] * 1e3,
        "latency_ms_q75": latency["q75"] * 1e3,
        "latency_repeats": latency["repeats"],
    }

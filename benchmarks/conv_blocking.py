"""The NumPy engine's stride-1 convolution run in blocks of images against the whole batch's columns at once.

Usage: python benchmarks/conv_blocking.py [--repeats 9]

For each layer shape (``vgg-small``'s 3x3 'same' layers at 28x28, 14x14 and 7x7, the first layer of a
network, and ``cnn-small``'s and ``keras-convnet``'s layers at half of a batch of 128), one forward and
backward pass of ``Conv2D`` with the blocked kernels forced on (``BLOCKED_ABOVE_BYTES = 0``) and forced off
(the whole batch's im2col columns and one product).  A 1x1 kernel always runs blocked (it needs no columns),
so it has no row.  The two paths alternate, the median of ``--repeats`` calls counts, and the best of three
rounds is printed.  Full batches
run as ``imgbench train`` runs a BatchNorm model (both cores, BLAS threads, the engine's thread splits);
half batches as the engine's half-batch step runs each half (one core, single-threaded BLAS).  The table says
which path :func:`imgbench.engines.numpy._kernels.use_blocked` picks for the shape.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import imgbench  # noqa: E402,F401  (first: it configures OpenBLAS before NumPy loads)
from imgbench.engines.numpy import _kernels, parallel  # noqa: E402
from imgbench.engines.numpy.conv import Conv2D  # noqa: E402

# (label, batch, in channels, filters, size, kernel, padding, needs dx, half batch)
SHAPES = [
    ("vgg-small 28x28", 128, 32, 32, 28, 3, 1, True, False),
    ("vgg-small 14x14", 128, 64, 64, 14, 3, 1, True, False),
    ("vgg-small 7x7", 128, 128, 128, 7, 3, 1, True, False),
    ("first layer 28x28", 128, 1, 32, 28, 3, 1, False, False),
    ("cnn-small conv2 (half batch)", 64, 16, 32, 12, 5, 0, True, True),
    ("keras-convnet conv2 (half batch)", 64, 32, 64, 13, 3, 0, True, True),
    ("keras-convnet conv3 (half batch)", 64, 64, 64, 11, 3, 0, True, True),
]


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[repeats // 2] * 1000


def _step_ms(layer: Conv2D, x: np.ndarray, dy: np.ndarray, blocked_above: int, repeats: int) -> float:
    previous = _kernels.BLOCKED_ABOVE_BYTES
    _kernels.BLOCKED_ABOVE_BYTES = blocked_above
    try:

        def step() -> None:
            layer.forward(x, training=True)
            layer.backward(dy)

        return _median_ms(step, repeats)
    finally:
        _kernels.BLOCKED_ABOVE_BYTES = previous


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print("| layer | input (N, C, H, W) | filters | kernel | whole batch ms | blocked ms | speed-up | engine uses |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for label, n, c, f, size, k, pad, needs_dx, half in SHAPES:
        x = rng.standard_normal((n, c, size, size), dtype=np.float32)
        layer = Conv2D(c, f, k, padding=pad, rng=np.random.default_rng(1))
        layer.needs_input_grad = needs_dx
        dy = rng.standard_normal(layer.forward(x).shape, dtype=np.float32)
        with _one_core() if half else contextlib.nullcontext():  # a half batch: as HalfBatchStep runs it
            rounds = [
                (_step_ms(layer, x, dy, 1 << 62, args.repeats), _step_ms(layer, x, dy, 0, args.repeats))
                for _ in range(3)
            ]
        whole, blocked = min(r[0] for r in rounds), min(r[1] for r in rounds)
        ho = size + 2 * pad - k + 1
        chosen = "blocked" if _kernels.use_blocked(n, c, k, ho, ho, x.itemsize) else "whole batch"
        print(
            f"| {label} | ({n}, {c}, {size}, {size}) | {f} | {k}x{k} | {whole:.1f} | {blocked:.1f} | "
            f"{whole / blocked:.2f}x | {chosen} |"
        )


@contextlib.contextmanager
def _one_core():
    with parallel.one_blas_thread(), parallel.serial():
        yield


if __name__ == "__main__":
    main()

"""A training step on both halves of the batch at once, one core each.

BLAS parallelises matrix products and :mod:`.parallel` the large copies, but
everything else in a step (ReLU, pooling, transposes, the optimiser's
elementwise updates) runs on one core.  Giving each core half of the batch
instead keeps both busy all the time: a second model shares the parameter
arrays, each half runs forward and backward with single-threaded BLAS, and
the parameter gradients are summed.  Measured on 2 cores for cnn-small at
batch 128: 19.0 ms per step against 23.3 ms.  Fully-connected models keep
the serial step: their large matrix products already use every core.

The sum of the halves' gradients, each scaled by its share of the batch, is
exactly the full batch's mean-loss gradient for layers that treat examples
independently.  Layers whose registry entry says ``mixes_batch`` do not
(BatchNorm: statistics over the batch; Dropout: masks from one random
stream), so models containing them keep the serial step.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...specs import is_convolutional, mixes_batch
from .losses import SoftmaxCrossEntropy
from .model import NumpyModel
from .parallel import one_blas_thread, serial

MIN_BATCH = 32  # smaller batches: thread hand-off costs more than a half-batch saves
_pool: ThreadPoolExecutor | None = None  # one worker for every engine: a study builds many engines


def _second_core() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(1, thread_name_prefix="imgbench-half-batch")
    return _pool


def supports(spec: dict) -> bool:
    """Whether splitting the batch is exact for this model and pays off.

    Only convolutional models gain: a fully-connected step is a few large
    matrix products, which multi-threaded BLAS already spreads over the cores.
    """
    return is_convolutional(spec) and not mixes_batch(spec)


def worthwhile() -> bool:
    """Two or more cores, and the user has not asked for one thread (``IMGBENCH_NUMPY_THREADS=1``)."""
    return (os.cpu_count() or 1) >= 2 and os.environ.get("IMGBENCH_NUMPY_THREADS", "") != "1"


class HalfBatchStep:
    """Forward and backward of a batch as two concurrent halves; gradients end up in ``model``."""

    def __init__(self, model: NumpyModel, label_smoothing: float = 0.0):
        self.model = model
        self.twin = NumpyModel(model.spec, seed=0)
        for (_, mine), (_, twin) in zip(model.net.named_layers(), self.twin.net.named_layers(), strict=True):
            for k in mine.params:
                twin.params[k] = mine.params[k]  # the same arrays: an optimiser step updates both
        self.losses = (SoftmaxCrossEntropy(label_smoothing), SoftmaxCrossEntropy(label_smoothing))

    @staticmethod
    def _half(model: NumpyModel, loss_fn: SoftmaxCrossEntropy, X, y, n_total: int):
        model.zero_grad()
        logits = model.forward(X, training=True)
        loss = loss_fn.forward(logits, y)
        model.backward(loss_fn.backward() * logits.dtype.type(len(y) / n_total))  # its share of the mean
        return loss * len(y), int((logits.argmax(axis=1) == y).sum())

    def __call__(self, X: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """Mean loss and correct predictions of the whole batch; the model holds its gradients."""
        n = len(y)
        m = n // 2
        with one_blas_thread(), serial():
            other = _second_core().submit(self._half, self.twin, self.losses[1], X[m:], y[m:], n)
            loss_a, hits_a = self._half(self.model, self.losses[0], X[:m], y[:m], n)
            loss_b, hits_b = other.result()
        for (_, _, g), (_, _, g_twin) in zip(self.model.parameters(), self.twin.parameters(), strict=True):
            g += g_twin
        return (loss_a + loss_b) / n, hits_a + hits_b

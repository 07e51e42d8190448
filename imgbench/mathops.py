"""Softmax and log-softmax: the one stable implementation every part of imgbench uses.

It sits at the top of the package, beside ``errors`` and ``fileio``, because
both the NumPy engine (its Softmax layer and cross-entropy loss) and the
evaluation code need it, and evaluation must not import an engine.  Both
functions keep the input's dtype; callers that want float64 probabilities
cast first.
"""

from __future__ import annotations

import numpy as np


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``e^{z_i} / sum_j e^{z_j}`` along ``axis``, with the maximum subtracted first (no overflow)."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    out: np.ndarray = e / e.sum(axis=axis, keepdims=True)
    return out


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``z_i - log sum_j e^{z_j}`` along ``axis``, computed stably (maximum subtracted first)."""
    shifted = z - z.max(axis=axis, keepdims=True)
    out: np.ndarray = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return out

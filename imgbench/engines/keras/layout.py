"""The one place where imgbench's layout meets Keras's.

imgbench stores images NCHW and conv kernels (out, in, kh, kw); Keras works
NHWC with kernels (kh, kw, in, out) and dense kernels (in, out).  Every
conversion between the two goes through these functions (tested both ways).
"""

from __future__ import annotations

import numpy as np


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    """Images (N, C, H, W) -> (N, H, W, C)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def nhwc_to_nchw(x: np.ndarray) -> np.ndarray:
    """Feature maps (N, H, W, C) -> (N, C, H, W); other ranks pass through."""
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if x.ndim == 4 else x


def conv_kernel_to_keras(w: np.ndarray) -> np.ndarray:
    """(out, in, kh, kw) -> (kh, kw, in, out)."""
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def conv_kernel_from_keras(k: np.ndarray) -> np.ndarray:
    """(kh, kw, in, out) -> (out, in, kh, kw)."""
    return np.ascontiguousarray(k.transpose(3, 2, 0, 1))


def dense_kernel_to_keras(w: np.ndarray) -> np.ndarray:
    """(out, in) -> (in, out)."""
    return np.ascontiguousarray(w.T)


def dense_kernel_from_keras(k: np.ndarray) -> np.ndarray:
    """(in, out) -> (out, in)."""
    return np.ascontiguousarray(k.T)

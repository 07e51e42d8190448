"""The one place where imgbench's layout meets Keras's.

imgbench stores images NCHW and conv kernels (out, in, kh, kw); Keras works
NHWC with kernels (kh, kw, in, out) and dense kernels (in, out).  Tokens are
(N, T, D) in both and pass unchanged; attention weights are packed
differently.  Every conversion between the two goes through these functions
(tested both ways).
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


def depthwise_kernel_to_keras(w: np.ndarray) -> np.ndarray:
    """Depthwise (C, 1, kh, kw) -> Keras's DepthwiseConv2D kernel (kh, kw, C, 1)."""
    return np.ascontiguousarray(w.transpose(2, 3, 0, 1))


def depthwise_kernel_from_keras(k: np.ndarray) -> np.ndarray:
    """(kh, kw, C, 1) -> (C, 1, kh, kw)."""
    return np.ascontiguousarray(k.transpose(2, 3, 0, 1))


def attention_to_keras(
    in_weight: np.ndarray, in_bias: np.ndarray, out_weight: np.ndarray, out_bias: np.ndarray, heads: int
) -> list[np.ndarray]:
    """PyTorch's attention projections -> Keras ``MultiHeadAttention``'s eight weights.

    ``in_weight`` (3D, D) stacks the query, key and value weights (out, in);
    Keras keeps a kernel (D, H, d) and a bias (H, d) for each of the three,
    then the output kernel (H, d, D) and bias (D,), with d = D / H.
    """
    dim = out_weight.shape[0]
    width = dim // heads
    weights = []
    for w, b in zip(np.split(in_weight, 3), np.split(in_bias, 3), strict=True):
        weights += [np.ascontiguousarray(w.T.reshape(dim, heads, width)), b.reshape(heads, width)]
    return [*weights, np.ascontiguousarray(out_weight.T.reshape(heads, width, dim)), out_bias]


def attention_from_keras(weights: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keras ``MultiHeadAttention``'s eight weights -> ``(in_weight, in_bias, out_weight, out_bias)``."""
    *qkv, out_kernel, out_bias = weights
    dim = out_bias.shape[0]
    in_weight = np.concatenate([kernel.reshape(dim, dim).T for kernel in qkv[0::2]])
    in_bias = np.concatenate([bias.reshape(dim) for bias in qkv[1::2]])
    return in_weight, in_bias, np.ascontiguousarray(out_kernel.reshape(dim, dim).T), out_bias

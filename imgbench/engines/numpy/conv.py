"""Convolution and pooling, vectorised.

Conv2D uses im2col: every k x k patch of the (padded) input becomes one row of
a matrix ``cols`` of shape (N*Ho*Wo, C*k*k), built from a strided *view* of
the input (no Python loops) and copied once; the convolution is then a single
large matrix product with the (F, C*k*k) weight matrix.  The backward pass
scatters patch gradients back with col2im, which is k*k slice-additions of
whole (N, C, Ho, Wo) blocks (never ``np.add.at``).  Pooling uses the same k*k
strided slices.  A slow loop reference for tests lives in ``reference.py``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .init import initialise
from .layers import Layer


def out_size(size: int, k: int, stride: int, pad: int) -> int:
    """Output length along one axis."""
    return (size + 2 * pad - k) // stride + 1


def pad_input(x: np.ndarray, pad: int) -> np.ndarray:
    """Zero-pad the two spatial axes of an NCHW array."""
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def im2col(x: np.ndarray, k: int, stride: int, pad: int) -> tuple[np.ndarray, int, int]:
    """Patches of ``x`` as rows: (N*Ho*Wo, C*k*k), plus ``Ho, Wo``.

    Row ``n*Ho*Wo + i*Wo + j`` holds the patch under output pixel (i, j) of
    image n, flattened in (c, ki, kj) order to match a (F, C, k, k) weight.
    """
    n, c, h, w = x.shape
    xp = pad_input(x, pad)
    ho, wo = out_size(h, k, stride, pad), out_size(w, k, stride, pad)
    win = sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :ho, :wo]
    # (N, C, Ho, Wo, k, k) -> (N, Ho, Wo, C, k, k): one copy into GEMM-ready rows.
    cols = np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n * ho * wo, c * k * k)
    return cols, ho, wo


def col2im(dcols: np.ndarray, x_shape: tuple, k: int, stride: int, pad: int, ho: int, wo: int) -> np.ndarray:
    """Adjoint of :func:`im2col`: sum each patch gradient back into its input position."""
    n, c, h, w = x_shape
    dxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=dcols.dtype)
    # (N*Ho*Wo, C*k*k) -> (k, k, N, C, Ho, Wo) so each (ki, kj) block is contiguous.
    d = np.ascontiguousarray(dcols.reshape(n, ho, wo, c, k, k).transpose(4, 5, 0, 3, 1, 2))
    for i in range(k):
        for j in range(k):
            dxp[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += d[i, j]
    return dxp[:, :, pad : pad + h, pad : pad + w] if pad else dxp


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in every framework), NCHW.

    Forward:  ``y[n,f,i,j] = b[f] + sum_{c,u,v} W[f,c,u,v] * xp[n, c, s*i+u, s*j+v]``
    where ``xp`` is ``x`` zero-padded by ``p``; as matrices ``Y = cols W^T + b``.
    Backward: ``dW += dY^T cols``, ``db += sum dY``, ``dcols = dY W``, ``dx = col2im(dcols)``.
    """

    def __init__(self, in_channels: int, filters: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
                 bias: bool = True, init: str = "he_uniform", rng: np.random.Generator | None = None,
                 name: str = ""):
        super().__init__(name)
        rng = rng or np.random.default_rng(0)
        self.k, self.stride, self.pad = kernel_size, stride, padding
        self._add_param("weight", initialise(init, (filters, in_channels, kernel_size, kernel_size), rng))
        if bias:
            self._add_param("bias", np.zeros(filters, np.float32))

    def forward(self, x, *, training=False):
        n = x.shape[0]
        w = self.params["weight"]
        f = w.shape[0]
        cols, ho, wo = im2col(x, self.k, self.stride, self.pad)
        y = cols @ w.reshape(f, -1).T  # (N*Ho*Wo, F): the one large GEMM
        if "bias" in self.params:
            y += self.params["bias"]
        self.cache = (cols, x.shape, ho, wo)
        return np.ascontiguousarray(y.reshape(n, ho, wo, f).transpose(0, 3, 1, 2))

    def backward(self, dy):
        cols, x_shape, ho, wo = self.cache
        w = self.params["weight"]
        f = w.shape[0]
        dy_mat = np.ascontiguousarray(dy.transpose(0, 2, 3, 1)).reshape(-1, f)
        self.grads["weight"] += (dy_mat.T @ cols).reshape(w.shape)
        if "bias" in self.params:
            self.grads["bias"] += dy_mat.sum(axis=0)
        if not self.needs_input_grad:
            return None
        dcols = dy_mat @ w.reshape(f, -1)
        return col2im(dcols, x_shape, self.k, self.stride, self.pad, ho, wo)


def _window_slices(k: int, stride: int, ho: int, wo: int):
    """The k*k strided slices, one per window offset, that tile the output grid."""
    for i in range(k):
        for j in range(k):
            yield i * k + j, (slice(None), slice(None), slice(i, i + stride * ho, stride),
                              slice(j, j + stride * wo, stride))


class MaxPool2D(Layer):
    """Max pooling over k x k windows with stride s.

    Forward:  ``y[n,c,i,j] = max_{u,v} x[n, c, s*i+u, s*j+v]``.
    Backward: the gradient goes to the first maximal element of each window
    (the same tie rule as PyTorch): ``dx[argmax] += dy``.
    """

    def __init__(self, size: int = 2, stride: int | None = None, name: str = ""):
        super().__init__(name)
        self.k, self.stride = size, stride or size

    def forward(self, x, *, training=False):
        n, c, h, w = x.shape
        ho, wo = out_size(h, self.k, self.stride, 0), out_size(w, self.k, self.stride, 0)
        y = idx = None
        for t, sl in _window_slices(self.k, self.stride, ho, wo):
            v = x[sl]
            if y is None:
                y, idx = v.copy(), np.zeros(v.shape, np.uint8)
            else:
                better = v > y  # strict: an earlier maximum keeps the gradient on ties
                np.copyto(y, v, where=better)
                idx[better] = t
        self.cache = (x.shape, idx, ho, wo)
        return y

    def backward(self, dy):
        x_shape, idx, ho, wo = self.cache
        dx = np.zeros(x_shape, dtype=dy.dtype)
        for t, sl in _window_slices(self.k, self.stride, ho, wo):
            dx[sl] += np.where(idx == t, dy, 0)
        return dx


class AvgPool2D(Layer):
    """Average pooling: ``y = mean of each k x k window``; ``dx[window] += dy / k^2``."""

    def __init__(self, size: int = 2, stride: int | None = None, name: str = ""):
        super().__init__(name)
        self.k, self.stride = size, stride or size

    def forward(self, x, *, training=False):
        n, c, h, w = x.shape
        ho, wo = out_size(h, self.k, self.stride, 0), out_size(w, self.k, self.stride, 0)
        y = np.zeros((n, c, ho, wo), dtype=x.dtype)
        for _, sl in _window_slices(self.k, self.stride, ho, wo):
            y += x[sl]
        y *= x.dtype.type(1.0 / (self.k * self.k))
        self.cache = (x.shape, ho, wo)
        return y

    def backward(self, dy):
        x_shape, ho, wo = self.cache
        dx = np.zeros(x_shape, dtype=dy.dtype)
        g = dy * dy.dtype.type(1.0 / (self.k * self.k))
        for _, sl in _window_slices(self.k, self.stride, ho, wo):
            dx[sl] += g
        return dx


class GlobalAvgPool2D(Layer):
    """``y[n,c] = mean_{h,w} x[n,c,h,w]``; ``dx = dy / (H W)`` broadcast over the map."""

    def forward(self, x, *, training=False):
        self.cache = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dy):
        n, c, h, w = self.cache
        return np.broadcast_to((dy / (h * w))[:, :, None, None], self.cache).copy()

"""Slow, obviously-correct loop implementations, used only by the tests.

They follow the textbook definitions element by element, so the vectorised
layers can be checked against them on small inputs.
"""

from __future__ import annotations

import numpy as np


def conv2d_loops(x, w, b, stride=1, pad=0):
    """Direct cross-correlation: ``y[n,f,i,j] = b[f] + sum_{c,u,v} w[f,c,u,v] xp[n,c,s i+u,s j+v]``."""
    n, c, h, wd = x.shape
    f, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    y = np.zeros((n, f, ho, wo), dtype=np.float64)
    for ni in range(n):
        for fi in range(f):
            for i in range(ho):
                for j in range(wo):
                    patch = xp[ni, :, i * stride : i * stride + k, j * stride : j * stride + k]
                    y[ni, fi, i, j] = (patch * w[fi]).sum() + (b[fi] if b is not None else 0.0)
    return y


def conv2d_backward_loops(x, w, dy, stride=1, pad=0):
    """``(dx, dw, db)`` of :func:`conv2d_loops` by scattering each output's gradient."""
    n, c, h, wd = x.shape
    f, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp, dtype=np.float64), np.zeros_like(w, dtype=np.float64)
    _, _, ho, wo = dy.shape
    for ni in range(n):
        for fi in range(f):
            for i in range(ho):
                for j in range(wo):
                    g = dy[ni, fi, i, j]
                    sl = (ni, slice(None), slice(i * stride, i * stride + k), slice(j * stride, j * stride + k))
                    dw[fi] += g * xp[sl]
                    dxp[sl] += g * w[fi]
    dx = dxp[:, :, pad : pad + h, pad : pad + wd] if pad else dxp
    return dx, dw, dy.sum(axis=(0, 2, 3))


def pool2d_loops(x, k, stride, mode="max"):
    """Max or average pooling over each window, with the argmax (first maximum) for max."""
    n, c, h, w = x.shape
    ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
    y = np.zeros((n, c, ho, wo))
    arg = np.zeros((n, c, ho, wo, 2), dtype=int)
    for ni in range(n):
        for ci in range(c):
            for i in range(ho):
                for j in range(wo):
                    win = x[ni, ci, i * stride : i * stride + k, j * stride : j * stride + k]
                    if mode == "max":
                        u, v = np.unravel_index(np.argmax(win), win.shape)
                        y[ni, ci, i, j] = win[u, v]
                        arg[ni, ci, i, j] = (i * stride + u, j * stride + v)
                    else:
                        y[ni, ci, i, j] = win.mean()
    return y, arg


def pool2d_backward_loops(x_shape, dy, k, stride, arg=None):
    """Gradient of max pooling (given ``arg``) or average pooling (``arg`` None)."""
    dx = np.zeros(x_shape)
    n, c, ho, wo = dy.shape
    for ni in range(n):
        for ci in range(c):
            for i in range(ho):
                for j in range(wo):
                    if arg is not None:
                        u, v = arg[ni, ci, i, j]
                        dx[ni, ci, u, v] += dy[ni, ci, i, j]
                    else:
                        dx[ni, ci, i * stride : i * stride + k, j * stride : j * stride + k] += dy[ni, ci, i, j] / (
                            k * k
                        )
    return dx

"""Slow, obviously-correct loop implementations, used only by the tests.

They follow the textbook definitions element by element, so the vectorised
layers and the speed kernels of ``_kernels.py`` can be checked against them
on small inputs.
"""

from __future__ import annotations

import numpy as np

from ...specs.layerdef import conv_out


def conv2d_loops(x, w, b, stride=1, pad=0):
    """Direct cross-correlation: ``y[n,f,i,j] = b[f] + sum_{c,u,v} w[f,c,u,v] xp[n,c,s i+u,s j+v]``."""
    n, c, h, wd = x.shape
    f, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = conv_out(h, k, stride, pad), conv_out(wd, k, stride, pad)
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


def _as_full_conv(w):
    """A depthwise weight (C, 1, k, k) as the (C, C, k, k) weight of an ordinary convolution: zero off the diagonal."""
    c = w.shape[0]
    full = np.zeros((c, c, *w.shape[2:]), dtype=np.float64)
    full[np.arange(c), np.arange(c)] = w[:, 0]
    return full


def depthwise_conv2d_loops(x, w, b, stride=1, pad=0):
    """A depthwise convolution as what it is: a convolution whose filter c sees only channel c."""
    return conv2d_loops(x, _as_full_conv(w), b, stride, pad)


def depthwise_conv2d_backward_loops(x, w, dy, stride=1, pad=0):
    """``(dx, dw, db)`` of :func:`depthwise_conv2d_loops`: the full convolution's, ``dw`` its diagonal."""
    dx, dw_full, db = conv2d_backward_loops(x, _as_full_conv(w), dy, stride, pad)
    c = w.shape[0]
    return dx, dw_full[np.arange(c), np.arange(c)][:, None], db


def pool2d_loops(x, k, stride, mode="max"):
    """Max or average pooling over each window, with the argmax (first maximum) for max."""
    n, c, h, w = x.shape
    ho, wo = conv_out(h, k, stride, 0), conv_out(w, k, stride, 0)
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


def add_patches_loops(dxp, d, stride):
    """``dxp[c, n, i + s*r, j + s*q] += d[c, i, j, n, r, q]``, one element at a time (twin of ``add_patches``)."""
    c, k, _, n, ho, wo = d.shape
    out = dxp.astype(np.float64)
    for ci in range(c):
        for i in range(k):
            for j in range(k):
                for ni in range(n):
                    for r in range(ho):
                        for q in range(wo):
                            out[ci, ni, i + stride * r, j + stride * q] += d[ci, i, j, ni, r, q]
    return out


def running_max_first_argmax_stacked(views):
    """Maximum over ``(t, view)`` pairs and the first ``t`` attaining it, via ``np.argmax`` on a stack."""
    ts, stack = zip(*[(t, v) for t, v in views], strict=True)
    stack = np.stack(stack)
    first = stack.argmax(axis=0)  # argmax returns the first maximum
    return stack.max(axis=0), np.asarray(ts)[first]

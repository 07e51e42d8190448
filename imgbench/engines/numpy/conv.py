"""Convolution, depthwise convolution and pooling, vectorised.

Conv2D uses im2col: every k x k patch of the (padded) input becomes one
*column* of a matrix ``cols`` of shape (C*k*k, N*Ho*Wo), copied once from a
strided *view* of the input (no Python loops); the convolution is then a
single large matrix product with the (F, C*k*k) weight matrix.  Columns are
ordered (c, ki, kj) x (n, i, j): the copy reads whole runs of image rows,
and the backward pass needs no large transpose.  col2im, the adjoint,
scatters patch gradients back with k*k slice-additions of whole blocks (never
``np.add.at``).  Pooling and the depthwise convolution (no channel mixing,
so no large matrix product) use the same k*k strided slices.

At stride 1, for 1x1 kernels and where the whole batch's columns would not
fit in the last-level cache (vgg-small's and resnet-small's 3x3 'same'
convolutions at 28x28 and 14x14), the same sums run a few images at a time:
a block of columns about 1 MiB in size is copied and multiplied while it is
still in the core's cache, where the whole batch's columns (9x the input)
would go out to memory and back.  Only the
padded input is kept for the backward pass; ``dx`` is then itself a stride-1
convolution, of ``dy`` with the filters turned by 180 degrees, so it needs
no col2im scatter either.

The speed tricks (threaded copies and additions, the blocked stride-1
convolution, max pooling's branch-free argmax) are named kernels in
``_kernels.py``; the slow loop references the tests compare with are in
``reference.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...specs.layerdef import conv_arguments, conv_out, padding_amount
from . import _kernels
from .layers import Builder, Layer
from .parallel import split_run

__all__ = ["AvgPool2D", "Conv2D", "DepthwiseConv2D", "GlobalAvgPool2D", "MaxPool2D", "col2im", "im2col"]


def pad_input(x: np.ndarray, pad: int, value: float = 0.0) -> np.ndarray:
    """Pad the two spatial axes of an NCHW array with ``value`` (zeros unless given)."""
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=value)


def unpad(dxp: np.ndarray, pad: int) -> np.ndarray:
    """The gradient of :func:`pad_input`: the padded border cut off again."""
    if pad == 0:
        return dxp
    return np.ascontiguousarray(dxp[:, :, pad:-pad, pad:-pad])


def im2col(x: np.ndarray, k: int, stride: int, pad: int) -> tuple[np.ndarray, int, int]:
    """Patches of ``x`` as columns: (C*k*k, N*Ho*Wo), plus ``Ho, Wo``.

    Column ``n*Ho*Wo + i*Wo + j`` holds the patch under output pixel (i, j) of
    image n, flattened in (c, ki, kj) order to match a (F, C, k, k) weight.
    """
    n, c, h, w = x.shape
    xp = pad_input(x, pad)
    ho, wo = conv_out(h, k, stride, pad), conv_out(w, k, stride, pad)
    win = sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :ho, :wo]
    # (N, C, Ho, Wo, k, k) -> (C, k, k, N, Ho, Wo): the innermost axis walks along an image row.
    win = win.transpose(1, 4, 5, 0, 2, 3)
    cols = _kernels.contiguous_copy(win)  # = np.ascontiguousarray(win), on several threads
    return cols.reshape(c * k * k, n * ho * wo), ho, wo


def col2im(dcols: np.ndarray, x_shape: tuple, k: int, stride: int, pad: int, ho: int, wo: int) -> np.ndarray:
    r"""Adjoint of :func:`im2col`: sum each patch gradient back into its input position.

    For every kernel offset :math:`(k_i, k_j)`, one slice-addition of a whole block,
    :math:`dx^p_{c,\,n,\,k_i + s i,\,k_j + s j} \mathrel{+}= d\mathrm{cols}_{(c, k_i, k_j),\,(n, i, j)}`
    for all :math:`c, n, i, j` at once.
    """
    n, c, h, w = x_shape
    d = dcols.reshape(c, k, k, n, ho, wo)
    # Accumulate in (C, N, H, W), the layout of each (ki, kj) block, then transpose once.
    dxp = np.zeros((c, n, h + 2 * pad, w + 2 * pad), dtype=dcols.dtype)
    _kernels.add_patches(dxp, d, stride)  # the k*k slice-additions, channel blocks on several threads
    if pad:
        dxp = dxp[:, :, pad : pad + h, pad : pad + w]
    return np.ascontiguousarray(dxp.transpose(1, 0, 2, 3))


class Conv2D(Layer):
    r"""2-D convolution (cross-correlation, as in every framework), NCHW, with stride :math:`s` and padding :math:`p`.

    Forward, with :math:`x^p` the input zero-padded by :math:`p`:

    .. math:: y_{n,f,i,j} = b_f + \sum_{c,u,v} W_{f,c,u,v}\, x^p_{n,\,c,\,s i+u,\,s j+v}

    As matrices, with :math:`W` read as (F, C k k) and :math:`\mathrm{cols}` (C k k, N Ho Wo) from
    :func:`im2col`: :math:`Y = W \mathrm{cols} + b`, one large matrix product.
    Backward: :math:`dW \mathrel{+}= dY \mathrm{cols}^\top`, :math:`db \mathrel{+}= \sum dY` (over N Ho Wo),
    :math:`d\mathrm{cols} = W^\top dY`, :math:`dx = \mathrm{col2im}(d\mathrm{cols})`.

    At stride 1, for 1x1 kernels and for batches whose columns would not fit in the last-level cache
    (:func:`._kernels.use_blocked`), the same sums run a few images at a time
    (:func:`._kernels.conv2d_blocked`), so each block of columns is still in the core's cache when the
    product reads it, and nothing but the padded input is kept for the backward pass, which rebuilds the
    columns for :math:`dW` (:func:`._kernels.conv2d_weight_grad_blocked`) and finds :math:`dx` as a
    convolution of :math:`dY` with the turned filters (:func:`._kernels.conv2d_input_grad_blocked`).
    Smaller stride-1 layers take ``dx`` from :func:`._kernels.conv_input_grad_stride1` (col2im's
    additions as long contiguous runs).
    """

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        init: str = "he_uniform",
        rng: np.random.Generator | None = None,
        name: str = "",
    ):
        super().__init__(name)
        self.k, self.stride, self.pad = kernel_size, stride, padding
        self._add_weight_and_bias((filters, in_channels, kernel_size, kernel_size), init, bias, rng)

    def forward(self, x, *, training=False):
        n = x.shape[0]
        w = self.params["weight"]
        f = w.shape[0]
        ho, wo = conv_out(x.shape[2], self.k, 1, self.pad), conv_out(x.shape[3], self.k, 1, self.pad)
        if self.stride == 1 and _kernels.use_blocked(n, x.shape[1], self.k, ho, wo, x.itemsize):
            xp = pad_input(x, self.pad)
            self.cache = (xp, None)
            y = _kernels.conv2d_blocked(xp, w)
            if "bias" in self.params:
                y += self.params["bias"][None, :, None, None]
            return y
        cols, ho, wo = im2col(x, self.k, self.stride, self.pad)
        y = (w.reshape(f, -1) @ cols).reshape(f, n, ho, wo)  # the one large GEMM
        self.cache = (cols, x.shape, ho, wo)
        out = np.empty((n, f, ho, wo), dtype=y.dtype)
        if "bias" in self.params:  # bias add fused with the (F, N) -> (N, F) transpose: one pass
            np.add(y.transpose(1, 0, 2, 3), self.params["bias"][None, :, None, None], out=out)
        else:
            np.copyto(out, y.transpose(1, 0, 2, 3))
        return out

    def backward(self, dy):
        w = self.params["weight"]
        f = w.shape[0]
        if self.cache[1] is None:  # the forward pass ran in blocks: the cache is (padded input, None)
            xp, _ = self.cache
            self.grads["weight"] += _kernels.conv2d_weight_grad_blocked(xp, dy, self.k)
            if "bias" in self.params:
                self.grads["bias"] += dy.sum(axis=(0, 2, 3))
            return _kernels.conv2d_input_grad_blocked(dy, w, self.pad) if self.needs_input_grad else None
        cols, x_shape, ho, wo = self.cache
        dy_mat = np.ascontiguousarray(dy.transpose(1, 0, 2, 3)).reshape(f, -1)  # (F, N*Ho*Wo)
        # (cols dy^T)^T rather than dy cols^T: BLAS runs this tall-skinny product ~1.5x faster.
        self.grads["weight"] += (cols @ dy_mat.T).T.reshape(w.shape)
        if "bias" in self.params:
            self.grads["bias"] += dy_mat.sum(axis=1)
        if not self.needs_input_grad:
            return None
        if self.stride == 1:
            return _kernels.conv_input_grad_stride1(dy, w, x_shape, self.pad)
        dcols = w.reshape(f, -1).T @ dy_mat
        return col2im(dcols, x_shape, self.k, self.stride, self.pad, ho, wo)


def _window_slices(k: int, stride: int, ho: int, wo: int):
    """The k*k strided slices, one per window offset, that tile the output grid."""
    for i in range(k):
        for j in range(k):
            yield (
                i * k + j,
                (slice(None), slice(None), slice(i, i + stride * ho, stride), slice(j, j + stride * wo, stride)),
            )


class DepthwiseConv2D(Conv2D):
    r"""Depthwise 2-D convolution: every channel filtered on its own (depth multiplier 1), NCHW.

    Its parameters are those of a ``Conv2D(1, C, k)``: ``weight`` (C, 1, k, k),
    one single-channel filter per channel, as in PyTorch's ``Conv2d(C, C, k, groups=C)``.
    With :math:`x^p` the input zero-padded by :math:`p`:

    Forward:

    .. math:: y_{n,c,i,j} = b_c + \sum_{u,v} W_{c,0,u,v}\, x^p_{n,\,c,\,s i+u,\,s j+v}

    Backward: :math:`dW_{c,0,u,v} \mathrel{+}= \sum_{n,i,j} dy_{n,c,i,j}\, x^p_{n,\,c,\,s i+u,\,s j+v}`,
    :math:`db_c \mathrel{+}= \sum_{n,i,j} dy_{n,c,i,j}`,
    :math:`dx^p_{n,\,c,\,s i+u,\,s j+v} \mathrel{+}= W_{c,0,u,v}\, dy_{n,c,i,j}`, then the padding is cut off.

    With no channel mixing there is no large matrix product to form: each pass
    loops over the k*k kernel offsets (u, v), one whole-array multiply-add on
    the strided slice ``xp[:, :, u::s, v::s]`` per offset (pooling's slices), into one reused product
    buffer, with blocks of channels on separate threads.
    Reference: :func:`.reference.depthwise_conv2d_loops`.
    """

    def __init__(self, channels: int, kernel_size: int, **options: Any):
        super().__init__(1, channels, kernel_size, **options)  # stride, padding, bias, init, rng, name as Conv2D

    def _offsets(self, ho: int, wo: int):
        """``(u, v, slices)`` for every kernel offset: the input elements that meet ``W[:, 0, u, v]``."""
        for t, sl in _window_slices(self.k, self.stride, ho, wo):
            yield (*divmod(t, self.k), sl)

    def forward(self, x, *, training=False):
        n, c, h, wd = x.shape
        ho, wo = conv_out(h, self.k, self.stride, self.pad), conv_out(wd, self.k, self.stride, self.pad)
        xp = pad_input(x, self.pad)
        w = self.params["weight"]
        y = np.zeros((n, c, ho, wo), dtype=x.dtype)

        def channels(a: int, b: int) -> None:
            # One product buffer for every offset, not a fresh temporary each (its pages would fault in anew).
            product = np.empty((n, b - a, ho, wo), dtype=x.dtype)
            for u, v, sl in self._offsets(ho, wo):
                np.multiply(w[None, a:b, 0, u, v, None, None], xp[sl][:, a:b], out=product)
                y[:, a:b] += product

        split_run(c, channels, y.size * self.k * self.k)  # channel blocks are independent
        if "bias" in self.params:
            y += self.params["bias"][None, :, None, None]
        self.cache = xp
        return y

    def backward(self, dy):
        xp = self.cache
        w, dw = self.params["weight"], self.grads["weight"]
        dxp = np.zeros_like(xp) if self.needs_input_grad else None

        def channels(a: int, b: int) -> None:
            d, product = dy[:, a:b], np.empty_like(dy[:, a:b])
            for u, v, sl in self._offsets(dy.shape[2], dy.shape[3]):
                dw[a:b, 0, u, v] += np.einsum("ncij,ncij->c", d, xp[sl][:, a:b])
                if dxp is not None:
                    np.multiply(w[None, a:b, 0, u, v, None, None], d, out=product)
                    dxp[sl][:, a:b] += product

        split_run(dy.shape[1], channels, 2 * dy.size * self.k * self.k)
        if "bias" in self.params:
            self.grads["bias"] += dy.sum(axis=(0, 2, 3))
        return None if dxp is None else unpad(dxp, self.pad)


class _Pool2D(Layer):
    """Shared by the pooling layers: k x k windows with stride s over the input padded by p (none by default)."""

    pad_value = 0.0  # what the padding holds

    def __init__(self, size: int = 2, stride: int | None = None, padding: int = 0, name: str = ""):
        super().__init__(name)
        self.k, self.stride, self.pad = size, stride or size, padding

    def _windows(self, x_shape):
        """``(ho, wo, slices)``: output size and the k*k strided slices that tile it (``x_shape`` padded)."""
        ho = conv_out(x_shape[2], self.k, self.stride, 0)
        wo = conv_out(x_shape[3], self.k, self.stride, 0)
        return ho, wo, list(_window_slices(self.k, self.stride, ho, wo))


class MaxPool2D(_Pool2D):
    r"""Max pooling over k x k windows with stride s; padding holds -infinity, so it never wins.

    Forward:  :math:`y_{n,c,i,j} = \max_{u,v} x^p_{n,\,c,\,s i+u,\,s j+v}`.
    Backward: the gradient goes to the first maximal element of each window
    (the same tie rule as PyTorch): :math:`dx_{\arg\max} \mathrel{+}= dy`.

    The maximum and the window offset ``t = u*k + v`` of its first occurrence
    come from :func:`._kernels.running_max_first_argmax`, one strided slice per offset.
    """

    pad_value = -np.inf

    def forward(self, x, *, training=False):
        x = pad_input(x, self.pad, self.pad_value)
        ho, wo, windows = self._windows(x.shape)
        y, idx = _kernels.running_max_first_argmax((t, x[sl]) for t, sl in windows)
        self.cache = (x.shape, idx, ho, wo)
        return y

    def backward(self, dy):
        x_shape, idx, ho, wo = self.cache
        dx = np.zeros(x_shape, dtype=dy.dtype)
        for t, sl in self._windows(x_shape)[2]:
            if self.stride < self.k:  # overlapping windows: a pixel may win several
                dx[sl] += dy * (idx == t)
            else:  # each input pixel lies in one window: write straight into dx
                np.multiply(dy, idx == t, out=dx[sl])
        return unpad(dx, self.pad)


class AvgPool2D(_Pool2D):
    r"""Average pooling over k x k windows with stride s; zero padding is counted in the mean.

    Forward:  :math:`y_{n,c,i,j} = \frac{1}{k^2} \sum_{u,v} x^p_{n,\,c,\,s i+u,\,s j+v}`.
    Backward: every element of a window gets :math:`dx \mathrel{+}= dy / k^2`.
    """

    def forward(self, x, *, training=False):
        x = pad_input(x, self.pad, self.pad_value)
        ho, wo, windows = self._windows(x.shape)
        y = np.zeros((x.shape[0], x.shape[1], ho, wo), dtype=x.dtype)
        for _, sl in windows:
            y += x[sl]
        y *= x.dtype.type(1.0 / (self.k * self.k))
        self.cache = (x.shape, ho, wo)
        return y

    def backward(self, dy):
        x_shape, ho, wo = self.cache
        dx = np.zeros(x_shape, dtype=dy.dtype)
        g = dy * dy.dtype.type(1.0 / (self.k * self.k))
        for _, sl in self._windows(x_shape)[2]:
            dx[sl] += g
        return unpad(dx, self.pad)


class GlobalAvgPool2D(Layer):
    r""":math:`y_{n,c} = \frac{1}{H W} \sum_{h,w} x_{n,c,h,w}`; :math:`dx_{n,c,h,w} = dy_{n,c} / (H W)`."""

    def forward(self, x, *, training=False):
        self.cache = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dy):
        n, c, h, w = self.cache
        return np.broadcast_to((dy / (h * w))[:, :, None, None], self.cache).copy()


def _build_conv2d(spec: dict, shape: tuple, rng: np.random.Generator) -> Conv2D:
    c, f, k, stride, pad, bias = conv_arguments(spec, shape)
    return Conv2D(c, f, k, stride=stride, padding=pad, bias=bias, init=spec["init"], rng=rng, name=spec["name"])


def _build_depthwise(spec: dict, shape: tuple, rng: np.random.Generator) -> DepthwiseConv2D:
    k, stride, pad = spec["kernel_size"], spec["stride"], padding_amount(spec)
    return DepthwiseConv2D(
        shape[0], k, stride=stride, padding=pad, bias=spec["bias"], init=spec["init"], rng=rng, name=spec["name"]
    )


BUILDERS: dict[str, Builder] = {
    "conv2d": _build_conv2d,
    "depthwiseconv2d": _build_depthwise,
    "maxpool2d": lambda spec, shape, rng: MaxPool2D(
        spec["size"], spec["stride"], padding_amount(spec), name=spec["name"]
    ),
    "avgpool2d": lambda spec, shape, rng: AvgPool2D(
        spec["size"], spec["stride"], padding_amount(spec), name=spec["name"]
    ),
    "globalavgpool2d": lambda spec, shape, rng: GlobalAvgPool2D(spec["name"]),
}

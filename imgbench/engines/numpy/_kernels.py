"""Speed kernels of the NumPy layers: the same arithmetic as the plain version, arranged to run faster.

The layers in :mod:`.conv` state their maths and call these for the parts
where a direct NumPy expression is slow.  Each kernel has a slow, obvious
twin in :mod:`.reference`, and the unit tests check that they agree.

- :func:`contiguous_copy`: materialise a strided view, channel blocks copied
  on several threads (im2col's patch copy).
- :func:`add_patches`: col2im's k*k slice-additions, channel blocks on
  several threads.
- :func:`conv_input_grad_stride1`: ``dx`` of a stride-1 convolution with every
  col2im addition one long contiguous run.
- :func:`conv2d_blocked`, :func:`conv2d_weight_grad_blocked` and
  :func:`conv2d_input_grad_blocked`: a stride-1 convolution and its gradients
  with im2col and the matrix product a few images at a time, so each block of
  columns is used while it is still in the core's cache instead of travelling
  to memory and back.
- :func:`running_max_first_argmax`: max pooling's maximum and the offset of
  its first occurrence, with a branch-free index update.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .parallel import split_images, split_run

# Columns per block: about 1 MiB of float32, half of this CPU's 2 MiB L2 cache per core (AMD EPYC, Intel's are
# similar), so the block written by the copy is still there when the matrix product reads it.
BLOCK_BYTES = 1 << 20
# Below this many bytes of columns for the whole batch (this CPU's 32 MiB L3 cache) the columns stay in cache
# anyway, and one large product beats many block-sized ones: blocked, cnn-small's and keras-convnet's layers
# took 0.8-1.0x the time, vgg-small's 14x14 and 28x28 layers 1.5-2.4x less (benchmarks/conv_blocking.py).
BLOCKED_ABOVE_BYTES = 32 << 20


def use_blocked(n: int, c: int, k: int, ho: int, wo: int, itemsize: int) -> bool:
    """Whether a stride-1 convolution should run in blocks: a 1x1 kernel always (it needs no columns at all),
    otherwise when the whole batch's columns would not fit in the last-level cache."""
    return k == 1 or n * c * k * k * ho * wo * itemsize > BLOCKED_ABOVE_BYTES


def contiguous_copy(view: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``view``, split across threads along its first axis longer than one.

    Reference: ``np.ascontiguousarray(view)``.
    """
    out = np.empty(view.shape, dtype=view.dtype)
    if view.shape[0] > 1:
        split_run(view.shape[0], lambda a, b: np.copyto(out[a:b], view[a:b]), out.size)
    else:
        split_run(view.shape[1], lambda a, b: np.copyto(out[:, a:b], view[:, a:b]), out.size)
    return out


def add_patches(dxp: np.ndarray, d: np.ndarray, stride: int) -> None:
    """``dxp[:, :, i + s*r, j + s*q] += d[:, i, j, :, r, q]`` for every kernel offset (i, j), in place.

    ``dxp`` is (C, N, Hp, Wp) and ``d`` the patch gradients (C, k, k, N, Ho, Wo).
    Channel blocks go to separate threads (they touch disjoint memory); the
    additions into each element happen in the same (i, j) order as a serial loop.
    Reference: :func:`.reference.add_patches_loops`.
    """
    k, ho, wo = d.shape[1], d.shape[4], d.shape[5]

    def add_channels(a: int, b: int) -> None:
        for i in range(k):
            for j in range(k):
                dxp[a:b, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += d[a:b, i, j]

    split_run(dxp.shape[0], add_channels, d.size)


def conv_input_grad_stride1(dy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], pad: int) -> np.ndarray:
    """``dx`` of a stride-1 convolution with every col2im addition one contiguous run.

    The output grid is widened from Wo to the padded input width Wp with zero
    gradient in the extra columns.  Then the patch gradient for kernel offset
    (ki, kj) lands on the flattened padded input at offset ``ki*Wp + kj``, as one
    contiguous block of ``Ho*Wp`` values, instead of Ho short rows of Wo values.
    Reference: ``dx`` of :func:`.reference.conv2d_backward_loops`.
    """
    n, c, h, wd = x_shape
    f, _, k, _ = w.shape
    hp, wp = h + 2 * pad, wd + 2 * pad
    ho, wo = hp - k + 1, wp - k + 1
    dy_wide = np.zeros((f, n, ho, wp), dtype=dy.dtype)
    dy_wide[..., :wo] = dy.transpose(1, 0, 2, 3)
    dcols = (w.reshape(f, -1).T @ dy_wide.reshape(f, -1)).reshape(c, k, k, n, ho * wp)
    flat = np.zeros((c, n, hp * wp + k - 1), dtype=dy.dtype)  # k-1 spare: the last run overhangs

    def add_channels(a: int, b: int) -> None:
        for i in range(k):
            for j in range(k):
                off = i * wp + j
                flat[a:b, :, off : off + ho * wp] += dcols[a:b, i, j]

    split_run(c, add_channels, dcols.size)
    dxp = flat[:, :, : hp * wp].reshape(c, n, hp, wp)[:, :, pad : pad + h, pad : pad + wd]
    return np.ascontiguousarray(dxp.transpose(1, 0, 2, 3))


def _block_images(cols_per_image: int, itemsize: int) -> int:
    """How many images' columns make one block (at least one)."""
    return max(1, BLOCK_BYTES // max(1, cols_per_image * itemsize))


def conv2d_blocked(xp: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Stride-1 convolution of the already padded ``xp`` (N, C, Hp, Wp) with ``w`` (F, C, k, k): (N, F, Ho, Wo).

    The same sums as im2col + one product (``W cols``), but the columns of a few images at a time (a block of
    about :data:`BLOCK_BYTES`), copied into one reused buffer that stays in the core's cache, and the product
    of each block moved into the NCHW output while it is in cache too.  Blocks of images go to separate threads,
    each with a single-threaded BLAS.  Reference: :func:`.reference.conv2d_loops`.
    """
    n, c, hp, wp = xp.shape
    f, _, k, _ = w.shape
    ho, wo = hp - k + 1, wp - k + 1
    wmat = w.reshape(f, c * k * k)
    out = np.empty((n, f, ho * wo), dtype=np.result_type(xp, w))
    if k == 1:  # the input is its own columns: an image's (C, H*W) maps times the (F, C) filters
        xs = xp.reshape(n, c, hp * wp)

        def pointwise(a: int, b: int) -> None:
            np.matmul(wmat, xs[a:b], out=out[a:b])

        split_images(n, pointwise, out.size * c)
        return out.reshape(n, f, ho, wo)
    windows = _windows(xp, k)
    m = _block_images(c * k * k * ho * wo, xp.itemsize)

    def images(a: int, b: int) -> None:
        cols = np.empty((c, k, k, min(m, b - a), ho, wo), dtype=xp.dtype)
        for s in range(a, b, m):
            e = min(s + m, b)
            block = cols[:, :, :, : e - s]
            np.copyto(block, windows[:, :, :, s:e])
            y = wmat @ block.reshape(c * k * k, -1)  # (F, images x Ho*Wo): one product for the block
            np.copyto(out[s:e], y.reshape(f, e - s, ho * wo).transpose(1, 0, 2))

    split_images(n, images, out.size * c * k * k)
    return out.reshape(n, f, ho, wo)


def _windows(xp: np.ndarray, k: int) -> np.ndarray:
    """The k x k patches of ``xp`` (N, C, Hp, Wp) as a strided view (C, k, k, N, Ho, Wo): im2col's column order."""
    return sliding_window_view(xp, (k, k), axis=(2, 3)).transpose(1, 4, 5, 0, 2, 3)


def conv2d_weight_grad_blocked(xp: np.ndarray, dy: np.ndarray, k: int) -> np.ndarray:
    """``dW`` (F, C, k, k) of a stride-1 convolution: ``dY cols^T`` summed block by block, the columns rebuilt.

    ``xp`` is the padded input the forward pass saw, ``dy`` (N, F, Ho, Wo).  Rebuilding a block's columns
    costs a copy into cache; keeping all of them from the forward pass would cost 9x the input in memory.
    Each thread sums its blocks into its own (F, C k k) total; the totals are added at the end.
    Reference: ``dW`` of :func:`.reference.conv2d_backward_loops`.
    """
    n, c, _, _ = xp.shape
    f, ho, wo = dy.shape[1:]
    windows = _windows(xp, k)
    ds = dy.reshape(n, f, ho * wo)
    m = _block_images(c * k * k * ho * wo, xp.itemsize)
    totals: dict[int, np.ndarray] = {}

    def images(a: int, b: int) -> None:
        total = np.zeros((f, c * k * k), dtype=np.result_type(xp, dy))
        if k == 1:  # no columns to build: one (F, H*W) x (H*W, C) product per image
            xs = xp.reshape(n, c, ho * wo)
            for i in range(a, b):
                total += ds[i] @ xs[i].T
            totals[a] = total
            return
        cols = np.empty((c, k, k, min(m, b - a), ho, wo), dtype=xp.dtype)
        grads = np.empty((f, min(m, b - a), ho * wo), dtype=dy.dtype)
        for s in range(a, b, m):
            e = min(s + m, b)
            block, d = cols[:, :, :, : e - s], grads[:, : e - s]
            np.copyto(block, windows[:, :, :, s:e])
            np.copyto(d, ds[s:e].transpose(1, 0, 2))
            # (cols dY^T)^T rather than dY cols^T: BLAS runs this tall-skinny product faster.
            total += (block.reshape(c * k * k, -1) @ d.reshape(f, -1).T).T
        totals[a] = total

    split_images(n, images, dy.size * c * k * k)
    parts = [totals[a] for a in sorted(totals)]
    return sum(parts[1:], parts[0]).reshape(f, c, k, k)


def conv2d_input_grad_blocked(dy: np.ndarray, w: np.ndarray, pad: int) -> np.ndarray:
    r"""``dx`` (N, C, H, W) of a stride-1 convolution with padding ``pad``: itself a stride-1 convolution.

    :math:`dx_{c,t} = \sum_{f,v} W_{f,c,k-1-v}\, dy^q_{f,t+v}` with :math:`dy^q` the output gradient padded by
    :math:`q = k-1-p` (cropped where :math:`q < 0`): the filters transposed to (C, F, k, k) and turned by 180
    degrees, run over ``dy`` by :func:`conv2d_blocked`.  No col2im scatter: every ``dx`` value is one sum.
    Reference: ``dx`` of :func:`.reference.conv2d_backward_loops`.
    """
    k = w.shape[2]
    q = k - 1 - pad
    if q > 0:
        dyq = np.pad(dy, ((0, 0), (0, 0), (q, q), (q, q)))
    elif q < 0:
        dyq = dy[:, :, -q:q, -q:q]
    else:
        dyq = dy
    turned = np.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    return conv2d_blocked(dyq, turned)


def running_max_first_argmax(views: Iterable[tuple[int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise maximum over ``(t, view)`` pairs, and the first ``t`` (< 256) that attains it.

    ``idx = where(v > y, t, idx)`` is written branch-free as
    ``idx ^= (idx ^ t) * (v > y)``: a masked ``copyto`` is about ten times
    slower.  Strict ``>`` keeps an earlier maximum on ties (PyTorch's rule).
    Reference: :func:`.reference.running_max_first_argmax_stacked`.
    """
    y = idx = None
    for t, v in views:
        if y is None or idx is None:
            y, idx = v.copy(), np.full(v.shape, t, np.uint8)
            continue
        better = v > y
        np.maximum(y, v, out=y)
        flip = idx ^ np.uint8(t)
        flip *= better
        idx ^= flip
    if y is None or idx is None:
        raise ValueError("running_max_first_argmax needs at least one view")
    return y, idx

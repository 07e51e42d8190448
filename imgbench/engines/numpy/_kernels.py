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
- :func:`running_max_first_argmax`: max pooling's maximum and the offset of
  its first occurrence, with a branch-free index update.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .parallel import split_run


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

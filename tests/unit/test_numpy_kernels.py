"""Each speed kernel of the NumPy engine against its slow reference twin."""

from __future__ import annotations

import numpy as np
import pytest

from imgbench.engines.numpy import _kernels
from imgbench.engines.numpy import reference as ref


@pytest.mark.parametrize("shape", [(3, 2, 4, 5), (1, 3, 4, 5)])  # first axis 1: split along the second
def test_contiguous_copy(threads, shape):
    view = np.random.default_rng(0).standard_normal((shape[3], *shape[:3])).transpose(1, 2, 3, 0)
    out = _kernels.contiguous_copy(view)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.ascontiguousarray(view))


@pytest.mark.parametrize("k,stride", [(3, 1), (3, 2), (2, 2)])
def test_add_patches(threads, k, stride):
    rng = np.random.default_rng(1)
    c, n, ho, wo = 3, 2, 4, 3
    d = rng.standard_normal((c, k, k, n, ho, wo))
    dxp = rng.standard_normal((c, n, k + stride * (ho - 1), k + stride * (wo - 1)))
    expected = ref.add_patches_loops(dxp, d, stride)
    _kernels.add_patches(dxp, d, stride)
    np.testing.assert_allclose(dxp, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k,pad", [(3, 0), (3, 1), (5, 2), (1, 0)])
def test_conv_input_grad_stride1(threads, k, pad):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, k, k))
    dy = rng.standard_normal(ref.conv2d_loops(x, w, None, 1, pad).shape)
    expected, _, _ = ref.conv2d_backward_loops(x, w, dy, 1, pad)
    np.testing.assert_allclose(_kernels.conv_input_grad_stride1(dy, w, x.shape, pad), expected, atol=1e-12)


@pytest.mark.parametrize("k,pad", [(3, 0), (3, 1), (5, 2), (1, 0), (1, 1), (2, 3)])  # pad > k-1: dy is cropped
@pytest.mark.parametrize("block_bytes", [1, 1 << 20])  # one image a block, or every image in one
def test_blocked_stride1_convolution_and_its_gradients(threads, monkeypatch, k, pad, block_bytes):
    monkeypatch.setattr(_kernels, "BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3, 7, 6))
    w = rng.standard_normal((4, 3, k, k))
    expected_y = ref.conv2d_loops(x, w, None, 1, pad)
    dy = rng.standard_normal(expected_y.shape)
    expected_dx, expected_dw, _ = ref.conv2d_backward_loops(x, w, dy, 1, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    np.testing.assert_allclose(_kernels.conv2d_blocked(xp, w), expected_y, atol=1e-12)
    np.testing.assert_allclose(_kernels.conv2d_weight_grad_blocked(xp, dy, k), expected_dw, atol=1e-12)
    np.testing.assert_allclose(_kernels.conv2d_input_grad_blocked(dy, w, pad), expected_dx, atol=1e-12)


def test_running_max_first_argmax_keeps_the_first_of_ties():
    rng = np.random.default_rng(3)
    views = [(t, rng.integers(0, 3, (2, 3, 4)).astype(np.float32)) for t in range(9)]  # many ties
    y, idx = _kernels.running_max_first_argmax(views)
    ry, ridx = ref.running_max_first_argmax_stacked(views)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(idx, ridx)
    assert idx.dtype == np.uint8


def test_running_max_first_argmax_starts_from_the_first_offset():
    views = [(4, np.array([1.0, 5.0])), (7, np.array([2.0, 5.0]))]
    y, idx = _kernels.running_max_first_argmax(views)
    assert y.tolist() == [2.0, 5.0] and idx.tolist() == [7, 4]


@pytest.mark.parametrize("name", ["adam", "adamw"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_in_place_update_is_bit_for_bit_the_plain_formula(threads, name, dtype):
    """Adam's update in reused scratch arrays (split over threads) against the formula written with fresh
    temporaries: the same operations in the same precisions (the denominator in float64), so equal bits."""
    from imgbench.engines.numpy.optim import OPTIMIZERS

    rng = np.random.default_rng(0)
    big = rng.standard_normal((40, 30)).astype(dtype)
    params = [rng.standard_normal(s).astype(dtype) for s in [(64, 50), (50,)]] + [big[:, ::3]]  # one strided
    grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
    expected = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    lr, wd, b1, b2, eps = 1e-3, 0.01, 0.9, 0.999, 1e-8
    opt = OPTIMIZERS[name](
        [(str(i), p, g) for i, (p, g) in enumerate(zip(params, grads, strict=True))], lr=lr, weight_decay=wd
    )
    for t in range(1, 4):
        opt.step()
        for i, (p, g) in enumerate(zip(expected, grads, strict=True)):
            if name == "adamw":
                p *= p.dtype.type(1 - lr * wd)
            else:
                g = g + wd * p
            m[i] = m[i] * b1 + (1 - b1) * g
            v[i] = v[i] * b2 + (1 - b2) * (g * g)
            denom = np.sqrt(v[i]) / np.sqrt(1 - b2**t) + eps
            p -= p.dtype.type(lr / (1 - b1**t)) * (m[i] / denom)
    for got, want in zip(params, expected, strict=True):
        assert np.array_equal(got, want)

"""Float64 finite-difference gradient checks of every NumPy layer and the loss."""

from __future__ import annotations

import numpy as np
import pytest

from imgbench.engines.numpy import (
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    LeakyReLU,
    MaxPool2D,
    NumpyModel,
    ReLU,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Tanh,
)
from imgbench.engines.numpy import reference as ref
from imgbench.engines.numpy.model import Residual

H = 1e-6


def rel_error(a, b):
    """Norm-wise relative error ||a - b|| / (||a|| + ||b||): robust to near-zero entries."""
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)


def numeric_grad(f, arr):
    """Central differences of scalar f() with respect to every element of arr (modified in place)."""
    g = np.zeros_like(arr)
    it = np.nditer(arr, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = arr[i]
        arr[i] = old + H
        fp = f()
        arr[i] = old - H
        fm = f()
        arr[i] = old
        g[i] = (fp - fm) / (2 * H)
    return g


def check_layer(layer, x, training=True, reseed=None):
    """Compare backward() with finite differences for input and every parameter."""
    layer.astype(np.float64)
    rng = np.random.default_rng(0)

    def run():
        if reseed:
            reseed(layer)
        return layer.forward(x, training=training)

    dy = rng.standard_normal(run().shape)
    loss = lambda: float((run() * dy).sum())  # noqa: E731
    run()
    layer.zero_grad()
    dx = layer.backward(dy)
    assert rel_error(dx, numeric_grad(loss, x)) < 1e-6
    for k, p in layer.params.items():
        analytic = layer.grads[k].copy()
        assert rel_error(analytic, numeric_grad(loss, p)) < 1e-6, k


@pytest.fixture
def x4():
    return np.random.default_rng(1).standard_normal((2, 3, 7, 6))


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (1, 2), (3, 0)])
def test_conv2d(x4, stride, pad):
    layer = Conv2D(3, 4, 3, stride=stride, padding=pad, rng=np.random.default_rng(2))
    layer.params["bias"][:] = np.random.default_rng(3).standard_normal(4)
    check_layer(layer, x4)


def test_conv2d_without_bias(x4):
    check_layer(Conv2D(3, 2, 2, bias=False, rng=np.random.default_rng(2)), x4)


@pytest.mark.parametrize("cls,k,s", [(MaxPool2D, 2, 2), (MaxPool2D, 3, 1), (AvgPool2D, 2, 2), (AvgPool2D, 3, 2)])
def test_pooling(x4, cls, k, s):
    check_layer(cls(k, s), x4)


def test_global_avg_pool(x4):
    check_layer(GlobalAvgPool2D(), x4)


def test_dense():
    layer = Dense(5, 3, rng=np.random.default_rng(0))
    layer.params["bias"][:] = [0.1, -0.2, 0.3]
    check_layer(layer, np.random.default_rng(1).standard_normal((4, 5)))


@pytest.mark.parametrize("layer", [ReLU(), LeakyReLU(0.1), Sigmoid(), Tanh(), Softmax(), Flatten()])
def test_elementwise(layer):
    x = np.random.default_rng(5).standard_normal((3, 4)) + 0.05  # keep away from ReLU's kink at 0
    if isinstance(layer, Flatten):
        x = np.random.default_rng(5).standard_normal((2, 3, 2, 2))
    check_layer(layer, x)


def test_dropout_uses_its_mask_in_backward():
    layer = Dropout(0.4)
    check_layer(
        layer,
        np.random.default_rng(5).standard_normal((6, 5)),
        reseed=lambda l: setattr(l, "rng", np.random.default_rng(9)),
    )


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 3, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm(shape, training):
    layer = BatchNorm(4)
    rng = np.random.default_rng(7)
    layer.params["weight"][:] = rng.uniform(0.5, 1.5, 4)
    layer.params["bias"][:] = rng.standard_normal(4)
    layer.buffers["running_mean"][:] = rng.standard_normal(4)
    layer.buffers["running_var"][:] = rng.uniform(0.5, 2, 4)
    check_layer(layer, rng.standard_normal(shape) * 2 + 1, training=training)


def test_residual_with_projection(x4):
    main = [
        Conv2D(3, 4, 3, padding=1, rng=np.random.default_rng(1)),
        Tanh(),
        Conv2D(4, 4, 3, padding=1, rng=np.random.default_rng(2)),
    ]
    layer = Residual(main, [Conv2D(3, 4, 1, rng=np.random.default_rng(3))])
    for _, sub in layer.named_layers():
        sub.astype(np.float64)
    check_layer(layer, x4)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_cross_entropy(smoothing):
    rng = np.random.default_rng(3)
    z = rng.standard_normal((5, 4)) * 3
    y = np.array([0, 3, 1, 1, 2])
    loss = SoftmaxCrossEntropy(smoothing)
    loss.forward(z, y)
    analytic = loss.backward()
    numeric = numeric_grad(lambda: loss.forward(z, y), z)
    assert rel_error(analytic, numeric) < 1e-6


def test_cross_entropy_is_stable_for_huge_logits():
    loss = SoftmaxCrossEntropy()
    value = loss.forward(np.array([[1000.0, 0.0, -1000.0]]), np.array([0]))
    assert value == pytest.approx(0.0, abs=1e-12)
    assert np.isfinite(loss.backward()).all()
    assert loss.forward(np.array([[1000.0, 0.0]]), np.array([1])) == pytest.approx(1000.0)


def test_whole_model_input_gradient():
    from imgbench.specs import resolve

    spec = resolve(
        {
            "input_shape": [1, 12, 12],
            "num_classes": 3,
            "layers": [
                {"type": "conv2d", "filters": 2, "kernel_size": 3},
                {"type": "tanh"},
                {"type": "maxpool2d", "size": 2},
                {"type": "flatten"},
                {"type": "dense", "units": 3},
            ],
        }
    )
    model = NumpyModel(spec, seed=0, dtype=np.float64)
    X = np.random.default_rng(0).standard_normal((2, 1, 12, 12))
    y = np.array([0, 2])
    loss = SoftmaxCrossEntropy()
    loss.forward(model.forward(X, training=True), y)
    dX = model.input_gradient(loss.backward())
    numeric = numeric_grad(lambda: loss.forward(model.forward(X, training=True), y), X)
    assert rel_error(dX, numeric) < 1e-6


# --- vectorised against the slow loop reference ------------------------------------------


@pytest.mark.parametrize("stride,pad,k", [(1, 0, 3), (2, 1, 3), (1, 2, 5), (2, 0, 2)])
def test_conv_matches_loop_reference(stride, pad, k):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 9, 8))
    layer = Conv2D(3, 4, k, stride=stride, padding=pad, rng=rng).astype(np.float64)
    layer.params["bias"][:] = rng.standard_normal(4)
    y = layer.forward(x)
    np.testing.assert_allclose(
        y, ref.conv2d_loops(x, layer.params["weight"], layer.params["bias"], stride, pad), rtol=1e-12, atol=1e-12
    )
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    rdx, rdw, rdb = ref.conv2d_backward_loops(x, layer.params["weight"], dy, stride, pad)
    np.testing.assert_allclose(dx, rdx, atol=1e-12)
    np.testing.assert_allclose(layer.grads["weight"], rdw, atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], rdb, atol=1e-12)


@pytest.mark.parametrize(
    "cls,mode,k,s",
    [(MaxPool2D, "max", 2, 2), (MaxPool2D, "max", 3, 2), (AvgPool2D, "avg", 2, 2), (AvgPool2D, "avg", 3, 1)],
)
def test_pool_matches_loop_reference(cls, mode, k, s):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 9, 7))
    layer = cls(k, s)
    y = layer.forward(x)
    ry, arg = ref.pool2d_loops(x, k, s, mode)
    np.testing.assert_allclose(y, ry, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(
        layer.backward(dy), ref.pool2d_backward_loops(x.shape, dy, k, s, arg if mode == "max" else None), atol=1e-12
    )


def test_maxpool_ties_send_gradient_to_first_maximum():
    x = np.zeros((1, 1, 2, 2))
    layer = MaxPool2D(2)
    layer.forward(x)
    dx = layer.backward(np.ones((1, 1, 1, 1)))
    assert dx.ravel().tolist() == [1.0, 0.0, 0.0, 0.0]


def test_threaded_copies_match_serial(monkeypatch):
    """The channel-split threads of im2col and col2im give exactly the serial result."""
    from imgbench.engines.numpy import parallel

    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 9, 9)).astype(np.float32)
    results = []
    for min_elements, threads in ((1 << 40, "1"), (0, "2")):
        monkeypatch.setattr(parallel, "MIN_ELEMENTS", min_elements)
        monkeypatch.setenv("IMGBENCH_NUMPY_THREADS", threads)
        layer = Conv2D(4, 5, 3, padding=1, rng=np.random.default_rng(0))
        strided = Conv2D(4, 5, 3, stride=2, rng=np.random.default_rng(0))
        first = Conv2D(1, 5, 3, rng=np.random.default_rng(0))  # C=1: split over kernel rows
        y = layer.forward(x)
        dy = np.ones_like(y)
        ys = strided.forward(x)
        yf = first.forward(x[:, :1])
        results.append((y, layer.backward(dy), ys, strided.backward(np.ones_like(ys)), yf))
    for serial, threaded in zip(*results, strict=True):
        np.testing.assert_array_equal(serial, threaded)

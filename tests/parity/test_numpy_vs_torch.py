"""Each NumPy layer and optimiser against its PyTorch twin, weights copied, float32."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from imgbench.engines.numpy import (  # noqa: E402  (after importorskip: the module is skipped without torch)
    SGD,
    Adam,
    AdamW,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,  # noqa: E402
    GlobalAvgPool2D,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Tanh,
)

TOL = 1e-4


def _compare(np_layer, torch_fn, x, training=True, torch_params=()):
    """Forward, then backward of a random upstream gradient, in both frameworks."""
    rng = np.random.default_rng(0)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch_fn(xt)
    y = np_layer.forward(x, training=training)
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=TOL, rtol=TOL)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    yt.backward(torch.tensor(dy))
    dx = np_layer.backward(dy)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=TOL, rtol=TOL)
    for key, tp in torch_params:
        np.testing.assert_allclose(np_layer.grads[key], tp.grad.numpy(), atol=TOL, rtol=TOL, err_msg=key)


def _x(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (1, 2)])
def test_conv2d(stride, pad):
    layer = Conv2D(3, 5, 3, stride=stride, padding=pad, rng=np.random.default_rng(0))
    layer.params["bias"][:] = _x(5)
    conv = nn.Conv2d(3, 5, 3, stride=stride, padding=pad)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(layer.params["weight"]))
        conv.bias.copy_(torch.tensor(layer.params["bias"]))
    _compare(layer, conv, _x(4, 3, 11, 10), torch_params=[("weight", conv.weight), ("bias", conv.bias)])


def test_dense():
    layer = Dense(7, 4, rng=np.random.default_rng(0))
    layer.params["bias"][:] = _x(4)
    lin = nn.Linear(7, 4)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(layer.params["weight"]))
        lin.bias.copy_(torch.tensor(layer.params["bias"]))
    _compare(layer, lin, _x(5, 7), torch_params=[("weight", lin.weight), ("bias", lin.bias)])


@pytest.mark.parametrize(
    "np_layer,torch_fn",
    [
        (MaxPool2D(2), nn.MaxPool2d(2)),
        (MaxPool2D(3, 2), nn.MaxPool2d(3, 2)),
        (AvgPool2D(2), nn.AvgPool2d(2)),
        (GlobalAvgPool2D(), lambda t: t.mean(dim=(2, 3))),
        (ReLU(), F.relu),
        (LeakyReLU(0.1), lambda t: F.leaky_relu(t, 0.1)),
        (Sigmoid(), torch.sigmoid),
        (Tanh(), torch.tanh),
    ],
    ids=["maxpool2", "maxpool3s2", "avgpool", "gap", "relu", "leakyrelu", "sigmoid", "tanh"],
)
def test_parameter_free_layers(np_layer, torch_fn):
    _compare(np_layer, torch_fn, _x(2, 3, 8, 9))


def test_softmax_layer():
    _compare(Softmax(), lambda t: F.softmax(t, dim=1), _x(4, 6))


def test_sigmoid_is_stable_at_extremes():
    x = np.array([[-100.0, -20.0, 0.0, 20.0, 100.0]], dtype=np.float32)
    np.testing.assert_allclose(Sigmoid().forward(x), torch.sigmoid(torch.tensor(x)).numpy(), atol=1e-7)


@pytest.mark.parametrize("shape", [(16, 6), (8, 6, 5, 4)])
def test_batchnorm_train_eval_and_running_stats(shape):
    layer = BatchNorm(6, momentum=0.1, eps=1e-5)
    bn = nn.BatchNorm1d(6) if len(shape) == 2 else nn.BatchNorm2d(6)
    g, b = np.random.default_rng(3).uniform(0.5, 1.5, 6).astype(np.float32), _x(6, seed=4)
    layer.params["weight"][:], layer.params["bias"][:] = g, b
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(g))
        bn.bias.copy_(torch.tensor(b))
    for step in range(3):  # several training steps: running statistics must track PyTorch's
        x = _x(*shape, seed=10 + step) * 2 + 0.5
        layer.zero_grad()
        bn.zero_grad()
        bn.train()
        _compare(layer, bn, x, training=True, torch_params=[("weight", bn.weight), ("bias", bn.bias)])
    np.testing.assert_allclose(layer.buffers["running_mean"], bn.running_mean.numpy(), atol=TOL)
    np.testing.assert_allclose(layer.buffers["running_var"], bn.running_var.numpy(), atol=TOL)
    bn.eval()
    layer.zero_grad()
    bn.zero_grad()
    _compare(layer, bn, _x(*shape, seed=99), training=False, torch_params=[("weight", bn.weight)])


def test_dropout_train_and_eval():
    x = np.ones((200, 50), np.float32)
    layer = Dropout(0.3, rng=np.random.default_rng(0))
    drop = nn.Dropout(0.3)
    # Evaluation: identity in both.
    drop.eval()
    np.testing.assert_array_equal(layer.forward(x, training=False), drop(torch.tensor(x)).numpy())
    # Training: same zero fraction and the same 1/(1-p) scale on survivors.
    drop.train()
    torch.manual_seed(0)
    y_np, y_t = layer.forward(x, training=True), drop(torch.tensor(x)).numpy()
    for y in (y_np, y_t):
        assert abs((y == 0).mean() - 0.3) < 0.02
        np.testing.assert_allclose(np.unique(y[y != 0]), [1 / 0.7], rtol=1e-6)
    # Backward applies the forward mask.
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx, y_np)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy(smoothing):
    z = _x(8, 5) * 3
    y = np.array([0, 1, 2, 3, 4, 0, 1, 2])
    loss = SoftmaxCrossEntropy(smoothing)
    value = loss.forward(z, y)
    zt = torch.tensor(z, requires_grad=True)
    lt = F.cross_entropy(zt, torch.tensor(y), label_smoothing=smoothing)
    lt.backward()
    assert value == pytest.approx(lt.item(), abs=TOL)
    np.testing.assert_allclose(loss.backward(), zt.grad.numpy(), atol=TOL)


@pytest.mark.parametrize(
    "name,np_cls,torch_cls,kw",
    [
        ("sgd", SGD, torch.optim.SGD, dict(lr=0.1)),
        ("sgd-momentum-wd", SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=1e-3)),
        ("sgd-nesterov", SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
        ("adam", Adam, torch.optim.Adam, dict(lr=1e-2)),
        ("adam-l2", Adam, torch.optim.Adam, dict(lr=1e-2, weight_decay=1e-2)),
        ("adamw", AdamW, torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.05)),
    ],
)
def test_optimizers_step_for_step(name, np_cls, torch_cls, kw):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    w, g = w0.copy(), np.zeros_like(w0)
    wt = torch.tensor(w0.copy(), requires_grad=True)
    opt = np_cls([("w", w, g)], **kw)
    opt_t = torch_cls([wt], **kw)
    for step in range(10):
        grad = rng.standard_normal(w0.shape).astype(np.float32)
        g[...] = grad
        wt.grad = torch.tensor(grad)
        opt.step()
        opt_t.step()
        np.testing.assert_allclose(w, wt.detach().numpy(), atol=1e-5, rtol=1e-5, err_msg=f"step {step}")

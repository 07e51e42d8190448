"""Whole zoo models: same spec -> same parameter count and the same function in NumPy and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from imgbench.engines.numpy import NumpyModel, SoftmaxCrossEntropy  # noqa: E402
from imgbench.engines.torch import build_torch_model, load_numpy_state  # noqa: E402
from imgbench.specs import ZOO, build_spec, param_count  # noqa: E402


def _shape(model):
    return [3, 32, 32] if model in ("vgg-small", "resnet-small", "ann-256k", "cnn-250k") else [1, 28, 28]


@pytest.mark.parametrize("model", sorted(ZOO))
def test_same_parameter_count_and_forward(model):
    spec = build_spec(model, _shape(model), 10)
    np_model = NumpyModel(spec, seed=0)
    t_model = build_torch_model(spec, seed=0)
    n_torch = sum(p.numel() for p in t_model.parameters())
    assert np_model.param_count() == param_count(spec) == n_torch
    load_numpy_state(t_model, np_model.state_dict())
    X = np.random.default_rng(0).standard_normal((4, *spec["input_shape"])).astype(np.float32)
    t_model.eval()
    with torch.no_grad():
        expected = t_model(torch.tensor(X)).numpy()
    np.testing.assert_allclose(np_model.forward(X), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("model", ["cnn-small", "resnet-small"])
def test_training_step_gradients_match(model):
    spec = build_spec(model, _shape(model), 10)
    np_model = NumpyModel(spec, seed=1)
    t_model = build_torch_model(spec)
    load_numpy_state(t_model, np_model.state_dict())
    X = np.random.default_rng(1).standard_normal((8, *spec["input_shape"])).astype(np.float32)
    y = np.arange(8) % 10
    loss = SoftmaxCrossEntropy()
    value = loss.forward(np_model.forward(X, training=True), y)
    np_model.backward(loss.backward())
    t_model.train()
    lt = torch.nn.functional.cross_entropy(t_model(torch.tensor(X)), torch.tensor(y))
    lt.backward()
    assert value == pytest.approx(lt.item(), abs=1e-4)
    t_grads = {k: p.grad.numpy() for k, p in t_model.named_parameters()}
    for name, _, g in np_model.parameters():
        np.testing.assert_allclose(g, t_grads[name], atol=2e-4, rtol=1e-3, err_msg=name)

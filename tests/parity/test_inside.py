"""Feature maps and saliency agree across engines given the same weights (what `visualize` shows)."""

from __future__ import annotations

import numpy as np
import pytest

from imgbench.engines import create_engine
from imgbench.specs import build_spec

pytest.importorskip("torch")

LAYERS = ["conv1", "relu1", "pool1", "conv2", "pool2", "dense1"]


@pytest.fixture(scope="module")
def twins():
    spec = build_spec("cnn-small", [1, 28, 28], 10)
    ref = create_engine("numpy", spec, seed=3)
    state = {k: v.copy() for k, v in ref.state_dict().items()}
    X = np.random.default_rng(3).standard_normal((4, 1, 28, 28)).astype(np.float32)
    return spec, ref, state, X


def _same_weights(twins, engine):
    """``(numpy engine, other engine with the same weights, X)``."""
    if engine == "keras":
        pytest.importorskip("keras")
    spec, ref, state, X = twins
    other = create_engine(engine, spec, seed=0)
    other.load_state_dict(state)
    return ref, other, X


@pytest.mark.parametrize("engine", ["torch", "keras"])
def test_feature_maps_match_the_numpy_engine(twins, engine):
    ref, other, X = _same_weights(twins, engine)
    expected, got = ref.activations(X, LAYERS), other.activations(X, LAYERS)
    assert list(got) == LAYERS
    for name in LAYERS:
        assert got[name].shape == expected[name].shape, name  # NCHW whatever the engine
        np.testing.assert_allclose(got[name], expected[name], atol=1e-4, rtol=1e-4, err_msg=name)


@pytest.mark.parametrize("engine", ["torch", "keras"])
def test_saliency_matches_the_numpy_engine(twins, engine):
    ref, other, X = _same_weights(twins, engine)
    classes = ref.predict_logits(X).argmax(1)
    expected = ref.input_gradient(X, classes)
    got = other.input_gradient(X, classes)
    assert got.shape == X.shape and np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-3)
    assert all(np.all(g == 0) for _, _, g in ref.model.parameters())  # no stray parameter gradients


def test_numpy_saliency_is_the_finite_difference_slope(twins):
    from imgbench.engines.numpy import NumpyModel

    spec, _, state, X = twins
    model = NumpyModel(spec, dtype=np.float64)  # float64, so a tiny step measures the slope exactly
    model.load_state_dict(state)
    x = X[:1].astype(np.float64)
    d = np.zeros((1, 10))
    d[0, 2] = 1.0
    model.forward(x)
    grad = model.input_gradient(d)[0, 0]
    eps = 1e-6
    for i, j in [(10, 10), (14, 17), (20, 5)]:
        up, down = x.copy(), x.copy()
        up[0, 0, i, j] += eps
        down[0, 0, i, j] -= eps
        slope = (model.forward(up)[0, 2] - model.forward(down)[0, 2]) / (2 * eps)
        assert slope == pytest.approx(grad[i, j], rel=1e-5, abs=1e-8)

"""The NumPy engine's half-batch step (two cores) trains exactly like the serial step."""

from __future__ import annotations

import numpy as np
import pytest

from imgbench.engines.numpy import dataparallel
from imgbench.engines.numpy.engine import NumpyEngine
from imgbench.specs import build_spec, resolve

# LayerNorm normalises each example on its own, so unlike BatchNorm it keeps the half-batch step exact.
PER_EXAMPLE_NORM = {
    "name": "conv-layernorm",
    "input_shape": [1, 8, 8],
    "num_classes": 10,
    "layers": [
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same"},
        {"type": "layernorm"},
        {"type": "gelu"},
        {"type": "maxpool2d", "size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": "num_classes"},
    ],
}


@pytest.mark.parametrize(
    "model,shape",
    [("cnn-small", (1, 28, 28)), ("lenet5", (1, 28, 28)), ("cnn-tiny", (1, 8, 8)), (PER_EXAMPLE_NORM, (1, 8, 8))],
    ids=["cnn-small", "lenet5", "cnn-tiny", "conv-layernorm"],
)
def test_half_batches_match_the_serial_step(model, shape, rng):
    spec = build_spec(model, list(shape), 10) if isinstance(model, str) else resolve(model)
    # SGD, not Adam: Adam divides by sqrt(v), which turns float rounding in near-zero gradients
    # into visible differences; the gradients themselves are what this test is about.
    opts = dict(seed=2, optimizer="sgd", lr=0.05, label_smoothing=0.1)
    halves = NumpyEngine(spec, half_batches=True, **opts)
    whole = NumpyEngine(spec, half_batches=False, **opts)
    assert halves.half_step is not None and whole.half_step is None
    for step in range(6):
        n = 64 if step % 2 else 75  # odd sizes split unevenly: each half weighs by its share
        X = rng.standard_normal((n, *shape)).astype(np.float32)
        y = rng.integers(0, 10, n)
        (la, ha), (lb, hb) = halves.fit_batch(X, y), whole.fit_batch(X, y)
        assert la == pytest.approx(lb, rel=1e-5) and ha == hb
    a, b = halves.state_dict(), whole.state_dict()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=2e-6, rtol=1e-5, err_msg=k)


@pytest.mark.parametrize(
    "model,shape,expected",
    [
        ("cnn-small", [1, 28, 28], True),
        ("lenet5", [1, 28, 28], True),
        ("mlp", [1, 28, 28], False),  # no convolution: BLAS already uses every core
        ("keras-convnet", [1, 28, 28], False),  # dropout: masks from one random stream
        ("vgg-small", [3, 32, 32], False),
        ("resnet-small", [3, 32, 32], False),
        (PER_EXAMPLE_NORM, [1, 8, 8], True),
    ],
)  # BatchNorm: batch statistics
def test_only_models_where_splitting_is_exact(model, shape, expected):
    spec = build_spec(model, shape, 10) if isinstance(model, str) else resolve(model)
    assert dataparallel.supports(spec) is expected


def test_one_thread_setting_turns_it_off(monkeypatch):
    monkeypatch.setenv("IMGBENCH_NUMPY_THREADS", "1")
    assert NumpyEngine(build_spec("cnn-tiny", [1, 8, 8], 10)).half_step is None

"""Token models end to end: the engines' per-layer activations agree, and the NumPy half-batch step stays exact."""

from __future__ import annotations

import numpy as np
import pytest

from imgbench.engines.numpy.engine import NumpyEngine
from imgbench.specs import resolve

TINY_VIT = {
    "name": "tiny-vit",
    "input_shape": [2, 8, 8],
    "num_classes": 5,
    "layers": [
        {"type": "patchembed", "patch_size": 4, "dim": 8},
        {"type": "classtoken"},
        {"type": "posembed"},
        {"type": "transformer", "heads": 2, "mlp_ratio": 2},
        {"type": "mha", "heads": 4},
        {"type": "layernorm"},
        {"type": "tokenpool", "mode": "class"},
        {"type": "dense", "units": "num_classes"},
    ],
}


def _engine(name: str, spec: dict):
    if name == "torch":
        pytest.importorskip("torch")
        from imgbench.engines.torch.engine import TorchEngine

        return TorchEngine(spec, seed=0)
    pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    from imgbench.engines.keras.engine import KerasEngine

    return KerasEngine(spec, seed=0)


@pytest.mark.parametrize("engine", ["torch", "keras"])
def test_activations_of_token_layers_match_numpy(engine):
    """``activations`` (what visualize and embedding read) gives (N, T, D) tokens in every engine."""
    spec = resolve(TINY_VIT)
    reference = NumpyEngine(spec, seed=1)
    other = _engine(engine, spec)
    other.load_state_dict(reference.state_dict())
    X = np.random.default_rng(0).standard_normal((3, 2, 8, 8)).astype(np.float32)
    want, got = reference.activations(X), other.activations(X)
    assert list(got) == [layer["name"] for layer in spec["layers"]]
    assert want["patch1"].shape == (3, 4, 8) and want["cls1"].shape == (3, 5, 8) and want["tokpool1"].shape == (3, 8)
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, atol=1e-4, rtol=1e-4, err_msg=name)


def test_half_batches_are_exact_for_a_vision_transformer():
    """Every token layer treats examples apart, so the patch convolution brings in the half-batch step."""
    spec = resolve(TINY_VIT)
    opts = dict(seed=2, optimizer="sgd", lr=0.05)
    halves = NumpyEngine(spec, half_batches=True, **opts)
    whole = NumpyEngine(spec, half_batches=False, **opts)
    rng = np.random.default_rng(3)
    for n in (75, 64):
        X = rng.standard_normal((n, 2, 8, 8)).astype(np.float32)
        y = rng.integers(0, 5, n)
        (la, ha), (lb, hb) = halves.fit_batch(X, y), whole.fit_batch(X, y)
        assert la == pytest.approx(lb, rel=1e-5) and ha == hb
    a, b = halves.state_dict(), whole.state_dict()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=2e-6, rtol=1e-5, err_msg=k)

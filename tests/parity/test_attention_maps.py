"""``attention_maps`` (what `visualize` draws attention rollout from) agrees across engines given the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from imgbench.engines import create_engine
from imgbench.specs import resolve

# A transformer block, then a standalone attention nested in a residual block: both ways an attention is built.
SPEC = resolve(
    {
        "name": "attention-probe",
        "input_shape": [2, 8, 8],
        "num_classes": 4,
        "layers": [
            {"type": "patchembed", "patch_size": 2, "dim": 8},
            {"type": "classtoken"},
            {"type": "posembed"},
            {"type": "transformer", "heads": 2, "mlp_ratio": 2},
            {"type": "residual", "layers": [{"type": "layernorm"}, {"type": "mha", "heads": 4}]},
            {"type": "layernorm"},
            {"type": "tokenpool", "mode": "mean"},
            {"type": "dense", "units": "num_classes"},
        ],
    }
)
KEYS = ["block1.self_attn", "res1.mha1"]


@pytest.fixture(scope="module")
def reference():
    """The NumPy engine with weights moved off their initial values (zero biases, tiny tokens), its maps, X."""
    engine = create_engine("numpy", SPEC, seed=5)
    rng = np.random.default_rng(5)
    engine.load_state_dict(
        {k: v + rng.normal(0, 0.3, v.shape).astype(np.float32) for k, v in engine.state_dict().items()}
    )
    X = rng.standard_normal((3, 2, 8, 8)).astype(np.float32)
    return engine, engine.attention_maps(X), X


def test_numpy_maps_are_named_shaped_and_stochastic(reference):
    _, maps, _ = reference
    assert list(maps) == KEYS  # forward order, keyed by the attention's weight prefix
    assert maps["block1.self_attn"].shape == (3, 2, 17, 17) and maps["res1.mha1"].shape == (3, 4, 17, 17)
    for value in maps.values():
        assert value.dtype == np.float32 and (value >= 0).all()
        np.testing.assert_allclose(value.sum(axis=-1), 1.0, atol=1e-5)
    assert maps["res1.mha1"].std() > 0.01  # not uniform: the weights above make the heads choose


@pytest.mark.parametrize("engine", ["torch", "keras"])
def test_maps_match_the_numpy_engine(reference, engine):
    pytest.importorskip(engine)
    ref, maps, X = reference
    other = create_engine(engine, SPEC, seed=0)
    other.load_state_dict(ref.state_dict())
    got = other.attention_maps(X)
    assert list(got) == KEYS
    for key in KEYS:
        assert got[key].dtype == np.float32
        np.testing.assert_allclose(got[key], maps[key], atol=1e-5, rtol=0, err_msg=key)
    np.testing.assert_allclose(other.predict_logits(X), ref.predict_logits(X), atol=1e-4, rtol=1e-4)  # unchanged

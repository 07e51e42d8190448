"""Every registered engine meets the adapter protocol of ``imgbench.engines.base``: a conformance test.

Parametrised from the engine registry, so a new engine is checked as soon as it has its registry line.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from imgbench.engines import ENGINES, OPTIMIZERS, WEIGHT_SUFFIX, Engine, EngineOptions, create_engine
from imgbench.engines.base import engine_class
from imgbench.errors import ImgbenchError
from imgbench.specs import resolve

# A tiny conv net with every kind of state: weights, BatchNorm buffers, dropout.
SPEC = resolve(
    {
        "name": "protocol-probe",
        "input_shape": [1, 8, 8],
        "num_classes": 3,
        "layers": [
            {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same"},
            {"type": "batchnorm"},
            {"type": "relu"},
            {"type": "maxpool2d", "size": 2},
            {"type": "flatten"},
            {"type": "dropout", "rate": 0.25},
            {"type": "dense", "units": "num_classes"},
        ],
    }
)
PROTOCOL_METHODS = [
    n for n, v in vars(Engine).items() if callable(v) and not n.startswith("_") and n not in ("name", "spec")
]


def _available(name: str) -> None:
    framework = ENGINES[name].framework
    if framework is not None:
        pytest.importorskip(framework)


def _engine(name: str, **options) -> Engine:
    _available(name)
    return create_engine(name, SPEC, EngineOptions(seed=0, lr=0.05, optimizer="sgd"), **options)


def _batch(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, n).astype(np.int64)


@pytest.fixture(scope="module", params=list(ENGINES))
def engine_name(request):
    return request.param


def test_registry_is_one_table():
    assert set(WEIGHT_SUFFIX) == set(ENGINES)
    assert len(set(WEIGHT_SUFFIX.values())) == len(WEIGHT_SUFFIX), "two engines would overwrite each other's weights"


def test_class_has_every_protocol_method_with_its_signature(engine_name):
    _available(engine_name)
    cls = engine_class(engine_name)
    assert cls.name == engine_name
    for method in PROTOCOL_METHODS:
        assert callable(getattr(cls, method, None)), f"{cls.__name__} lacks {method}"
        want = list(inspect.signature(getattr(Engine, method)).parameters)
        have = list(inspect.signature(getattr(cls, method)).parameters)
        assert have[: len(want)] == want, f"{cls.__name__}.{method}{have} != protocol {want}"


def test_contract_shapes_dtypes_and_layout(engine_name, tmp_path):
    engine = _engine(engine_name)
    assert isinstance(engine, Engine)
    X, y = _batch()
    loss, hits = engine.fit_batch(X, y)
    assert isinstance(loss, float) and np.isfinite(loss)
    assert isinstance(hits, int) and 0 <= hits <= len(y)

    logits = engine.predict_logits(X, batch_size=5)  # batches that do not divide N
    assert logits.shape == (16, 3) and logits.dtype == np.float32
    assert engine.predict_logits(X[:0]).shape == (0, 3)

    maps = engine.activations(X[:2])
    assert list(maps) == [layer["name"] for layer in SPEC["layers"]]
    for layer in SPEC["layers"]:
        assert maps[layer["name"]].shape == (2, *layer["output_shape"]), layer["name"]  # NCHW, whatever the engine
    np.testing.assert_allclose(maps[SPEC["layers"][-1]["name"]], logits[:2], rtol=1e-4, atol=1e-5)
    assert list(engine.activations(X[:2], ["conv1"])) == ["conv1"]

    assert engine.attention_maps(X[:2]) == {}  # no attention in this model

    # Asked again after the weights changed (training, a load): the new weights' outputs, not a cached model's.
    engine.fit_batch(X, y)
    again = engine.activations(X[:2])
    np.testing.assert_allclose(again[SPEC["layers"][-1]["name"]], engine.predict_logits(X[:2]), rtol=1e-4, atol=1e-5)
    assert not np.allclose(again["conv1"], maps["conv1"])

    grad = engine.input_gradient(X[:2], [0, 2])
    assert grad.shape == (2, 1, 8, 8) and np.abs(grad).sum() > 0

    state = engine.state_dict()
    assert {k for k in state if k.startswith("conv1.")} == {"conv1.weight", "conv1.bias"}
    assert state["conv1.weight"].shape == (4, 1, 3, 3) and state["dense1.weight"].shape == (3, 64)
    assert {"bn1.running_mean", "bn1.running_var"} <= set(state)
    assert engine.param_count() == 4 * 9 + 4 + 2 * 4 + 64 * 3 + 3


def test_weights_round_trip_through_files_and_engines(engine_name, tmp_path):
    engine = _engine(engine_name)
    X, y = _batch()
    engine.fit_batch(X, y)
    path = tmp_path / f"w{WEIGHT_SUFFIX[engine_name]}"
    engine.save(path)
    again = _engine(engine_name)
    again.load(path)
    np.testing.assert_array_equal(again.predict_logits(X), engine.predict_logits(X))

    numpy_twin = _engine("numpy")  # the shared names and layouts: any engine's state loads into any other
    numpy_twin.load_state_dict(engine.state_dict())
    np.testing.assert_allclose(numpy_twin.predict_logits(X), engine.predict_logits(X), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated"])
def test_damaged_weights_and_checkpoints_name_the_file(engine_name, tmp_path, damage):
    engine = _engine(engine_name)
    suffix = WEIGHT_SUFFIX[engine_name]
    engine.save(tmp_path / f"good{suffix}")
    engine.save_checkpoint(tmp_path / "ckpt" / f"state{suffix}")
    for good in (tmp_path / f"good{suffix}", *sorted((tmp_path / "ckpt").iterdir())):
        data = good.read_bytes()
        bad = {"garbage": b"not weights at all", "empty": b"", "truncated": data[: len(data) // 2]}[damage]
        damaged = tmp_path / damage / good.name
        damaged.parent.mkdir(exist_ok=True)
        damaged.write_bytes(bad)
    for load, name in ((engine.load, f"good{suffix}"), (engine.load_checkpoint, f"state{suffix}")):
        if not (tmp_path / damage / name).exists():
            continue
        with pytest.raises(ImgbenchError, match=str(tmp_path / damage)):
            load(tmp_path / damage / name)


def test_checkpoint_resumes_bit_for_bit(engine_name, tmp_path):
    X, y = _batch()
    straight = _engine(engine_name)
    for epoch in range(3):
        straight.reseed(0, epoch)
        straight.set_lr(0.05 / (epoch + 1))
        straight.fit_batch(X, y)

    first = _engine(engine_name)
    first.reseed(0, 0)
    first.set_lr(0.05)
    first.fit_batch(X, y)
    path = tmp_path / "checkpoint" / f"state{WEIGHT_SUFFIX[engine_name]}"
    first.save_checkpoint(path)
    resumed = _engine(engine_name)
    resumed.load_checkpoint(path)
    for epoch in (1, 2):
        resumed.reseed(0, epoch)
        resumed.set_lr(0.05 / (epoch + 1))
        resumed.fit_batch(X, y)
    for k, v in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)


def test_options_are_validated_once_for_every_engine(engine_name):
    _available(engine_name)
    with pytest.raises(ImgbenchError, match="unknown optimizer 'rmsprop'.*" + ", ".join(OPTIMIZERS)):
        create_engine(engine_name, SPEC, optimizer="rmsprop")
    with pytest.raises(ImgbenchError, match="unknown engine option"):
        create_engine(engine_name, SPEC, learning_rate=0.1)
    cls = engine_class(engine_name)
    with pytest.raises(ImgbenchError, match="unknown engine option"):
        cls(SPEC, lr_typo=0.1)


def test_options_an_engine_ignores_are_reported(engine_name):
    _available(engine_name)
    unused = [k for k in ("device", "threads", "deterministic", "precision") if k not in ENGINES[engine_name].uses]
    values = {"device": "cpu", "threads": 1, "deterministic": True, "precision": "bf16"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_engine(engine_name, SPEC, **{k: values[k] for k in unused})
    said = " ".join(str(w.message) for w in caught)
    for k in unused:
        assert "ignores" in said and k in said


def test_unknown_engine():
    with pytest.raises(ImgbenchError, match="unknown engine 'jax': expected one of numpy, torch, keras"):
        create_engine("jax", SPEC)

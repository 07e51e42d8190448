"""The Keras engine: layout conversion, same parameter counts, same forward pass as PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from imgbench.engines.keras import layout  # noqa: E402
from imgbench.engines.keras.engine import KerasEngine  # noqa: E402
from imgbench.engines.keras.model import build_keras_model  # noqa: E402
from imgbench.engines.keras.weights import get_numpy_state, set_numpy_state  # noqa: E402
from imgbench.engines.numpy import NumpyModel  # noqa: E402
from imgbench.engines.torch import build_torch_model, load_numpy_state  # noqa: E402
from imgbench.errors import ImgbenchError  # noqa: E402
from imgbench.specs import ZOO, build_spec, param_count  # noqa: E402


def test_layout_round_trips():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5))
    assert layout.nchw_to_nhwc(x).shape == (2, 4, 5, 3)
    np.testing.assert_array_equal(layout.nhwc_to_nchw(layout.nchw_to_nhwc(x)), x)
    w = rng.standard_normal((8, 3, 5, 5))
    assert layout.conv_kernel_to_keras(w).shape == (5, 5, 3, 8)
    np.testing.assert_array_equal(layout.conv_kernel_from_keras(layout.conv_kernel_to_keras(w)), w)
    d = rng.standard_normal((10, 7))
    np.testing.assert_array_equal(layout.dense_kernel_from_keras(layout.dense_kernel_to_keras(d)), d)


def _shape(model):
    return [3, 32, 32] if model in ("vgg-small", "resnet-small", "ann-256k", "cnn-250k") else [1, 28, 28]


@pytest.mark.parametrize("model", sorted(ZOO))
def test_keras_matches_torch(model):
    spec = build_spec(model, _shape(model), 10)
    state = NumpyModel(spec, seed=3).state_dict()
    for k in state:  # non-trivial BatchNorm statistics, so eval-mode normalisation is exercised
        if k.endswith("running_var"):
            state[k] = np.random.default_rng(1).uniform(0.5, 2.0, state[k].shape).astype(np.float32)
        if k.endswith("running_mean"):
            state[k] = np.random.default_rng(2).normal(0, 0.1, state[k].shape).astype(np.float32)
    km = build_keras_model(spec)
    assert int(sum(np.prod(w.shape) for w in km.trainable_weights)) == param_count(spec)
    set_numpy_state(km, spec, state)
    tm = build_torch_model(spec)
    load_numpy_state(tm, state)
    tm.eval()
    X = np.random.default_rng(0).standard_normal((4, *spec["input_shape"])).astype(np.float32)
    with torch.no_grad():
        expected = tm(torch.tensor(X)).numpy()
    got = np.asarray(km.predict_on_batch(layout.nchw_to_nhwc(X)))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    back = get_numpy_state(km, spec)
    for k, v in state.items():
        np.testing.assert_array_equal(back[k], v)


def test_cnn_small_has_46730_parameters_in_keras():
    engine = KerasEngine(build_spec("cnn-small", [1, 28, 28], 10))
    assert engine.param_count() == 46730


def test_batchnorm_and_init_defaults_come_from_the_spec():
    spec = build_spec("vgg-small", [3, 32, 32], 10)
    bn = [l for l in build_keras_model(spec).layers if l.__class__.__name__ == "BatchNormalization"][0]
    assert bn.momentum == pytest.approx(0.9) and bn.epsilon == pytest.approx(1e-5)


def test_activations_come_back_nchw():
    spec = build_spec("cnn-small", [1, 28, 28], 10)
    engine = KerasEngine(spec)
    acts = engine.activations(np.zeros((2, 1, 28, 28), np.float32), ["conv1", "pool2", "dense2"])
    assert acts["conv1"].shape == (2, 16, 24, 24) and acts["pool2"].shape == (2, 32, 4, 4)
    assert acts["dense2"].shape == (2, 10)


def test_coupled_weight_decay_is_refused():
    with pytest.raises(ImgbenchError, match="only with optimizer adamw"):
        KerasEngine(build_spec("mlp-small", [1, 8, 8], 10), optimizer="adam", weight_decay=1e-4)


def test_reseeded_dropout_is_the_same_in_another_process():
    """Resume happens in a new process: masks must not depend on Python's salted str hashes."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from imgbench.engines.keras.engine import KerasEngine\n"
        "from imgbench.specs import build_spec\n"
        "e = KerasEngine(build_spec('keras-convnet', [1, 28, 28], 10))\n"
        "e.reseed(3, 1)\n"
        "x = np.ones((4, 28, 28, 1), np.float32)\n"
        "print(np.asarray(e.model(x, training=True)).round(5).tolist())\n"
    )
    outs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONHASHSEED": str(salt)},
        ).stdout
        for salt in (1, 2)
    ]
    assert outs[0] and outs[0] == outs[1]


def test_bf16_mixed_precision_trains_in_float32_variables(tmp_path):
    spec = build_spec("resnet-small", [3, 32, 32], 10)
    bf16, fp32 = KerasEngine(spec, seed=0, precision="bf16"), KerasEngine(spec, seed=0)
    assert (bf16.precision, fp32.precision) == ("bf16", "fp32")  # auto is fp32 on the CPU
    fp32.load_state_dict(bf16.state_dict())
    rng = np.random.default_rng(2)
    X = rng.standard_normal((16, 3, 32, 32), dtype=np.float32)
    # Same weights: bf16's 8 bits of mantissa keep the logits within a few 1e-2 of fp32's.
    logits = bf16.predict_logits(X)
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits, fp32.predict_logits(X), atol=0.1, rtol=0.05)
    y = rng.integers(0, 10, 16)
    losses = [bf16.fit_batch(X, y)[0] for _ in range(8)]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]  # it learns the batch
    assert all(w.dtype == "float32" for w in bf16.model.weights)  # master weights stay float32
    assert all(v.dtype == np.float32 for v in bf16.activations(X[:2]).values())
    assert bf16.input_gradient(X[:2], [0, 1]).dtype == np.float32
    # The weights file is precision-free: an fp32 engine reads what a bf16 one wrote.
    bf16.save(tmp_path / "w.weights.h5")
    fp32.load(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(fp32.state_dict()["conv1.weight"], bf16.state_dict()["conv1.weight"])
    # The policy was set for that build only: a model built next is float32 again.
    assert build_keras_model(spec).dtype_policy.name == "float32"


def test_keras_precision_errors_are_clear():
    spec = build_spec("cnn-small", [1, 28, 28], 10)
    with pytest.raises(ImgbenchError, match="needs a GPU"):
        KerasEngine(spec, precision="fp16")

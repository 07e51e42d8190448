"""The PyTorch engine's CPU speed options: channels-last layout (default) and bf16 autocast (opt-in)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from imgbench.engines.numpy.engine import NumpyEngine  # noqa: E402
from imgbench.engines.torch import build_torch_model, load_numpy_state  # noqa: E402
from imgbench.engines.torch.engine import TorchEngine  # noqa: E402
from imgbench.errors import ImgbenchError  # noqa: E402
from imgbench.specs import build_spec  # noqa: E402


def _engines(model="resnet-small", shape=(3, 32, 32), **kw):
    spec = build_spec(model, list(shape), 10)
    nhwc = TorchEngine(spec, device="cpu", optimizer="sgd", lr=0.05, seed=3, **kw)
    nchw = TorchEngine(spec, device="cpu", optimizer="sgd", lr=0.05, seed=3, channels_last=False)
    return spec, nhwc, nchw


def test_conv_models_run_channels_last_on_cpu_and_dense_ones_do_not():
    _, nhwc, nchw = _engines()
    assert nhwc.channels_last and not nchw.channels_last
    conv = nhwc.model.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    mlp = TorchEngine(build_spec("mlp", [1, 28, 28], 10), device="cpu")
    assert not mlp.channels_last


def test_channels_last_gradients_match_float64():
    """Layout changes only the order of float32 sums.  oneDNN's channels-last BatchNorm backward sums
    dL/dy over N*H*W in plain float32, so BN and earlier parameter gradients carry relative errors of a
    few 1e-3 of their largest entry (NCHW: 1e-6): far below SGD's own noise, but not bit-for-bit."""
    spec, nhwc, nchw = _engines()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, *spec["input_shape"]), dtype=np.float32)
    y = rng.integers(0, 10, 16)
    ref = build_torch_model(spec).double()
    load_numpy_state(ref, nchw.state_dict())
    ref.train()
    torch.nn.functional.cross_entropy(ref(torch.tensor(X, dtype=torch.float64)), torch.tensor(y)).backward()
    for engine, tol in ((nchw, 1e-4), (nhwc, 2e-2)):
        engine.model.train()
        xt = engine._to_device(X)
        torch.nn.functional.cross_entropy(engine.model(xt), torch.tensor(y)).backward()
        got = dict(engine.model.named_parameters())
        for name, p in ref.named_parameters():
            g, r = got[name].grad.double(), p.grad
            assert float((g - r).abs().max() / r.abs().max()) < tol, (engine.channels_last, name)


def test_channels_last_trains_like_nchw():
    spec, nhwc, nchw = _engines()
    rng = np.random.default_rng(0)
    for _ in range(3):
        X = rng.standard_normal((16, *spec["input_shape"]), dtype=np.float32)
        y = rng.integers(0, 10, 16)
        la, _ = nhwc.fit_batch(X, y)
        lb, _ = nchw.fit_batch(X, y)
        assert la == pytest.approx(lb, abs=1e-3)
    a, b = nhwc.state_dict(), nchw.state_dict()
    for name in b:
        assert a[name].flags.c_contiguous, name  # NumPy gets NCHW arrays, not strided NHWC views
        np.testing.assert_allclose(a[name], b[name], atol=2e-3, err_msg=name)
    X = rng.standard_normal((8, *spec["input_shape"]), dtype=np.float32)
    nchw.load_state_dict(a)  # the same weights give the same logits in either layout
    np.testing.assert_allclose(nhwc.predict_logits(X), nchw.predict_logits(X), atol=1e-4, rtol=1e-4)


def test_channels_last_weights_round_trip_through_the_numpy_engine(tmp_path):
    spec, nhwc, _ = _engines("cnn-small", (1, 28, 28))
    np_engine = NumpyEngine(spec, seed=0)
    nhwc.load_state_dict(np_engine.state_dict())
    X = np.random.default_rng(1).standard_normal((4, 1, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(nhwc.predict_logits(X), np_engine.predict_logits(X), atol=1e-4, rtol=1e-4)
    nhwc.save(tmp_path / "w.pt")
    again = TorchEngine(spec, device="cpu", channels_last=False)
    again.load(tmp_path / "w.pt")
    np.testing.assert_allclose(again.predict_logits(X), np_engine.predict_logits(X), atol=1e-4, rtol=1e-4)


def test_bf16_autocast_trains_and_predicts_in_float32():
    spec, bf16, fp32 = _engines(precision="bf16")
    assert bf16.amp_dtype is torch.bfloat16 and fp32.amp_dtype is None
    rng = np.random.default_rng(2)
    X = rng.standard_normal((32, *spec["input_shape"]), dtype=np.float32)
    y = rng.integers(0, 10, 32)
    losses = [bf16.fit_batch(X, y)[0] for _ in range(8)]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]  # it learns the batch
    assert bf16.model.conv1.weight.dtype == torch.float32  # master weights stay fp32
    logits = bf16.predict_logits(X)
    assert logits.dtype == np.float32
    # bf16 keeps 8 bits of mantissa: logits agree with fp32 to about 1e-2 relative.
    fp32.load_state_dict(bf16.state_dict())
    np.testing.assert_allclose(logits, fp32.predict_logits(X), atol=0.1, rtol=0.05)


def test_precision_errors_are_clear():
    spec = build_spec("cnn-small", [1, 28, 28], 10)
    with pytest.raises(ImgbenchError, match="unknown precision 'fp8'"):
        TorchEngine(spec, device="cpu", precision="fp8")
    with pytest.raises(ImgbenchError, match="needs a GPU"):
        TorchEngine(spec, device="cpu", precision="fp16")

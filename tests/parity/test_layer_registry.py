"""Every registered layer type, in every engine, from the registry alone.

For each type the registry's own example layer becomes a tiny model
(``[example, flatten if it gives feature maps or tokens]``); a few more
cases reach options the examples leave out.  Each engine must build it
with the registry's parameter count and, given the NumPy model's weights,
compute the same outputs and the same input gradient.  The NumPy layers
also pass a float64 finite-difference check.  A type registered without a
builder in some engine fails here: the cases come from the registry, not
from a list kept by hand.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from imgbench.engines.numpy import NumpyModel
from imgbench.engines.numpy.model import BUILDERS as NUMPY_BUILDERS
from imgbench.specs import LAYERS, output_shape, param_count, resolve
from tests.unit.test_numpy_gradients import numeric_grad, rel_error

TYPES = sorted(LAYERS)
TOL = 1e-4
BATCH = 3

# Options that the registry's one example per type leaves out: (layer, input shape).
MORE_CASES = {
    "maxpool2d-same": ({"type": "maxpool2d", "size": 3, "stride": 1, "padding": "same"}, (2, 4, 4)),
    "avgpool2d-padded": ({"type": "avgpool2d", "size": 3, "stride": 2, "padding": 1}, (2, 5, 5)),
    "depthwiseconv2d-same-no-bias": (
        {"type": "depthwiseconv2d", "kernel_size": 3, "padding": "same", "bias": False},
        (3, 4, 4),
    ),
    "layernorm-features": ({"type": "layernorm"}, (5,)),
    "layernorm-tokens": ({"type": "layernorm", "eps": 1e-3}, (3, 4)),
    "concat-features": ({"type": "concat", "branches": [[{"type": "dense", "units": 2}], []]}, (3,)),
    "patchembed-no-bias": ({"type": "patchembed", "patch_size": 3, "dim": 4, "bias": False}, (2, 6, 3)),
    "transformer-one-head": ({"type": "transformer", "heads": 1, "mlp_ratio": 1}, (2, 3)),
    "tokenpool-mean": ({"type": "tokenpool", "mode": "mean"}, (3, 4)),
}
CASES = {**{kind: ({"type": kind, **LAYERS[kind].example}, LAYERS[kind].example_input) for kind in TYPES}, **MORE_CASES}


def tiny_spec(case: str) -> dict:
    """The layer of ``case`` as a whole model whose logits are its (flattened) output."""
    layer, input_shape = CASES[case]
    layers = [copy.deepcopy(layer)]
    shape = output_shape(layers, input_shape, num_classes=2)
    if len(shape) > 1:
        layers.append({"type": "flatten"})
    return resolve(
        {
            "name": f"tiny-{case}",
            "input_shape": list(input_shape),
            "num_classes": math.prod(shape),
            "layers": layers,
        }
    )


def _randomise(model: NumpyModel, seed: int = 5) -> None:
    """Move every parameter and buffer off its initial value (zero biases, unit scales hide mistakes)."""
    rng = np.random.default_rng(seed)
    for key, value in model.state_dict().items():
        if key.endswith("running_var"):
            value[...] = rng.uniform(0.5, 2.0, value.shape)
        elif value.ndim == 1:  # biases, norm scales and shifts, running means
            value[...] += rng.normal(0.0, 0.3, value.shape)


def _inputs(spec: dict, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """``(X, dY)``: a batch of inputs and an upstream gradient for the logits."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((BATCH, *spec["input_shape"])).astype(dtype)
    dY = rng.standard_normal((BATCH, spec["num_classes"])).astype(dtype)
    return X, dY


@pytest.fixture(scope="module", params=list(CASES))
def reference(request):
    """``(kind, spec, NumPy state, X, dY, logits, dX)``: the NumPy engine's answers, float32, inference mode."""
    spec = tiny_spec(request.param)
    model = NumpyModel(spec, seed=0)
    _randomise(model)
    X, dY = _inputs(spec)
    logits = model.forward(X, training=False)
    dX = model.input_gradient(dY)
    return request.param, spec, {k: v.copy() for k, v in model.state_dict().items()}, X, dY, logits, dX


def test_every_type_has_a_numpy_builder():
    assert sorted(NUMPY_BUILDERS) == TYPES


def test_numpy_counts_what_the_registry_counts(reference):
    _, spec, state, *_ = reference
    assert NumpyModel(spec).param_count() == param_count(spec)


def _torch_answers(spec, state, X, dY):
    torch = pytest.importorskip("torch")
    from imgbench.engines.torch.model import BUILDERS, build_torch_model, load_numpy_state

    assert sorted(BUILDERS) == TYPES
    model = build_torch_model(spec, seed=0)
    n_params = sum(p.numel() for p in model.parameters())
    load_numpy_state(model, state)
    model.eval()
    x = torch.tensor(X, requires_grad=True)
    y = model(x)
    y.backward(torch.tensor(dY))
    return n_params, y.detach().numpy(), x.grad.numpy()


def _keras_answers(spec, state, X, dY):
    pytest.importorskip("keras")
    tf = pytest.importorskip("tensorflow")
    from imgbench.engines.keras.layout import nchw_to_nhwc, nhwc_to_nchw
    from imgbench.engines.keras.model import BUILDERS, build_keras_model
    from imgbench.engines.keras.weights import WEIGHTS, get_numpy_state, set_numpy_state

    assert sorted(BUILDERS) == TYPES
    assert {t for t in TYPES if LAYERS[t].has_params} == set(WEIGHTS)
    model = build_keras_model(spec)
    n_params = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    set_numpy_state(model, spec, state)
    back = get_numpy_state(model, spec)
    assert back.keys() == state.keys() and all(np.array_equal(back[k], state[k]) for k in state)
    x = tf.convert_to_tensor(nchw_to_nhwc(X) if X.ndim == 4 else X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x, training=False)
        weighted = tf.reduce_sum(y * tf.convert_to_tensor(dY))
    return n_params, np.asarray(y), nhwc_to_nchw(tape.gradient(weighted, x).numpy())


@pytest.mark.parametrize("engine", ["torch", "keras"])
def test_engine_matches_numpy(reference, engine):
    _, spec, state, X, dY, logits, dX = reference
    answers = _torch_answers if engine == "torch" else _keras_answers
    n_params, got_logits, got_dX = answers(spec, state, X, dY)
    assert n_params == param_count(spec)
    np.testing.assert_allclose(got_logits, logits, atol=TOL, rtol=TOL, err_msg="forward")
    np.testing.assert_allclose(got_dX, dX, atol=TOL, rtol=TOL, err_msg="input gradient")


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_numpy_gradients_match_finite_differences(reference, training):
    """Float64: ``input_gradient`` and every parameter gradient against central differences."""
    _, spec, state, *_ = reference
    model = NumpyModel(spec, dtype=np.float64)
    model.load_state_dict(state)
    X, dY = _inputs(spec, np.float64)
    buffers = {k: v.copy() for k, v in model.state_dict().items() if "running" in k}

    def loss() -> float:
        for _, layer in model.net.named_layers():  # the same dropout mask on every pass
            if hasattr(layer, "rng"):
                layer.rng = np.random.default_rng(9)
        model.load_state_dict({**model.state_dict(), **buffers})  # training passes move running statistics
        return float((model.forward(X, training=training) * dY).sum())

    loss()
    model.zero_grad()
    dX = model.input_gradient(dY)
    analytic = {name: g.copy() for name, _, g in model.parameters()}
    assert rel_error(dX, numeric_grad(loss, X)) < 1e-6
    for name, p, _ in model.parameters():
        assert rel_error(analytic[name], numeric_grad(loss, p)) < 1e-6, name

"""Float64 finite-difference gradient checks of every NumPy layer and the loss."""

from __future__ import annotations

import numpy as np
import pytest

from imgbench.engines.numpy import (
    AvgPool2D,
    BatchNorm,
    ClassToken,
    Concat,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    LayerNorm,
    LeakyReLU,
    MaxPool2D,
    MultiHeadAttention,
    NumpyModel,
    PatchEmbed,
    PositionEmbedding,
    ReLU,
    ReLU6,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    SoftmaxCrossEntropy,
    Tanh,
    TokenPool,
    TransformerBlock,
    _kernels,
)
from imgbench.engines.numpy import reference as ref
from imgbench.engines.numpy.model import Residual

H = 1e-6


def rel_error(a, b):
    """Norm-wise relative error ||a - b|| / (||a|| + ||b||): robust to near-zero entries."""
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)


def numeric_grad(f, arr):
    """Central differences of scalar f() with respect to every element of arr (modified in place)."""
    g = np.zeros_like(arr)
    it = np.nditer(arr, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = arr[i]
        arr[i] = old + H
        fp = f()
        arr[i] = old - H
        fm = f()
        arr[i] = old
        g[i] = (fp - fm) / (2 * H)
    return g


def check_layer(layer, x, training=True, reseed=None):
    """Compare backward() with finite differences for input and every parameter (a block's: its leaves')."""
    leaves = [leaf for _, leaf in layer.named_layers()]
    for leaf in leaves:
        leaf.astype(np.float64)
    rng = np.random.default_rng(0)

    def run():
        if reseed:
            reseed(layer)
        return layer.forward(x, training=training)

    dy = rng.standard_normal(run().shape)
    loss = lambda: float((run() * dy).sum())  # noqa: E731
    run()
    for leaf in leaves:
        leaf.zero_grad()
    dx = layer.backward(dy)
    assert rel_error(dx, numeric_grad(loss, x)) < 1e-6
    for leaf in leaves:
        for k, p in leaf.params.items():
            analytic = leaf.grads[k].copy()
            assert rel_error(analytic, numeric_grad(loss, p)) < 1e-6, f"{leaf.name}.{k}"


@pytest.fixture
def x4():
    return np.random.default_rng(1).standard_normal((2, 3, 7, 6))


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (1, 2), (3, 0)])
def test_conv2d(x4, stride, pad):
    layer = Conv2D(3, 4, 3, stride=stride, padding=pad, rng=np.random.default_rng(2))
    layer.params["bias"][:] = np.random.default_rng(3).standard_normal(4)
    check_layer(layer, x4)


def test_conv2d_without_bias(x4):
    check_layer(Conv2D(3, 2, 2, bias=False, rng=np.random.default_rng(2)), x4)


@pytest.mark.parametrize("cls,k,s", [(MaxPool2D, 2, 2), (MaxPool2D, 3, 1), (AvgPool2D, 2, 2), (AvgPool2D, 3, 2)])
def test_pooling(x4, cls, k, s):
    check_layer(cls(k, s), x4)


def test_global_avg_pool(x4):
    check_layer(GlobalAvgPool2D(), x4)


def test_dense():
    layer = Dense(5, 3, rng=np.random.default_rng(0))
    layer.params["bias"][:] = [0.1, -0.2, 0.3]
    check_layer(layer, np.random.default_rng(1).standard_normal((4, 5)))


@pytest.mark.parametrize("layer", [ReLU(), LeakyReLU(0.1), Sigmoid(), Tanh(), SiLU(), Softmax(), Flatten()])
def test_elementwise(layer):
    x = np.random.default_rng(5).standard_normal((3, 4)) + 0.05  # keep away from ReLU's kink at 0
    if isinstance(layer, Flatten):
        x = np.random.default_rng(5).standard_normal((2, 3, 2, 2))
    check_layer(layer, x)


def test_dropout_uses_its_mask_in_backward():
    layer = Dropout(0.4)
    check_layer(
        layer,
        np.random.default_rng(5).standard_normal((6, 5)),
        reseed=lambda l: setattr(l, "rng", np.random.default_rng(9)),
    )


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 3, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm(shape, training):
    layer = BatchNorm(4)
    rng = np.random.default_rng(7)
    layer.params["weight"][:] = rng.uniform(0.5, 1.5, 4)
    layer.params["bias"][:] = rng.standard_normal(4)
    layer.buffers["running_mean"][:] = rng.standard_normal(4)
    layer.buffers["running_var"][:] = rng.uniform(0.5, 2, 4)
    check_layer(layer, rng.standard_normal(shape) * 2 + 1, training=training)


def test_residual_with_projection(x4):
    main = [
        Conv2D(3, 4, 3, padding=1, rng=np.random.default_rng(1)),
        Tanh(),
        Conv2D(4, 4, 3, padding=1, rng=np.random.default_rng(2)),
    ]
    layer = Residual(main, [Conv2D(3, 4, 1, rng=np.random.default_rng(3))])
    for _, sub in layer.named_layers():
        sub.astype(np.float64)
    check_layer(layer, x4)


def test_relu6_passes_gradient_only_between_its_kinks():
    x = np.random.default_rng(5).standard_normal((4, 5)) * 5 + 0.05  # well beyond 6 and below 0
    check_layer(ReLU6(), x)
    layer = ReLU6()
    np.testing.assert_array_equal(layer.forward(np.array([-1.0, 0.0, 3.0, 6.0, 7.0])), [0, 0, 3, 6, 6])
    np.testing.assert_array_equal(layer.backward(np.ones(5)), [0, 0, 1, 0, 0])


@pytest.mark.parametrize("stride,pad,bias", [(1, 0, True), (2, 1, True), (1, 2, False), (3, 0, True)])
def test_depthwise_conv2d(x4, stride, pad, bias):
    layer = DepthwiseConv2D(3, 3, stride=stride, padding=pad, bias=bias, rng=np.random.default_rng(2))
    if bias:
        layer.params["bias"][:] = np.random.default_rng(3).standard_normal(3)
    check_layer(layer, x4)


@pytest.mark.parametrize("cls,k,s,p", [(MaxPool2D, 3, 1, 1), (MaxPool2D, 3, 2, 1), (AvgPool2D, 3, 1, 1)])
def test_padded_pooling(x4, cls, k, s, p):
    check_layer(cls(k, s, p), x4)


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (2, 4, 3, 2)])
def test_layernorm_on_features_tokens_and_maps(shape):
    rng = np.random.default_rng(8)
    layer = LayerNorm(4)
    layer.params["weight"][:] = rng.uniform(0.5, 1.5, 4)
    layer.params["bias"][:] = rng.standard_normal(4)
    x = rng.standard_normal(shape) * 2 + 1
    check_layer(layer, x)
    axis = 1 if len(shape) == 4 else -1  # the feature axis: channels of maps, the last axis otherwise
    x_hat = (np.moveaxis(layer.forward(x), axis, -1) - layer.params["bias"]) / layer.params["weight"]
    np.testing.assert_allclose(x_hat.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(x_hat.var(axis=-1), 1, atol=1e-4)  # eps keeps it a little under 1


def test_concat_of_branches(x4):
    layer = Concat(
        [
            Sequential([Conv2D(3, 2, 1, rng=np.random.default_rng(1)), Tanh()]),
            Sequential([MaxPool2D(3, 1, 1), Conv2D(3, 1, 3, padding=1, rng=np.random.default_rng(2))]),
            Sequential([]),
        ]
    )
    assert layer.forward(x4).shape == (2, 6, 7, 6)
    check_layer(layer, x4)


def test_patch_embed_tokens(x4):
    layer = PatchEmbed(3, 5, 3, rng=np.random.default_rng(4))
    layer.params["bias"][:] = np.random.default_rng(5).standard_normal(5)
    x = x4[:, :, :6, :6]
    check_layer(layer, x)
    # The same as a convolution with kernel = stride = p, its 2x2 grid read row by row.
    conv = Conv2D(3, 5, 3, stride=3, rng=np.random.default_rng(0)).astype(np.float64)
    conv.params["weight"][:], conv.params["bias"][:] = layer.params["weight"], layer.params["bias"]
    expected = conv.forward(x).reshape(2, 5, 4).transpose(0, 2, 1)
    np.testing.assert_allclose(layer.forward(x), expected, atol=1e-12)


@pytest.fixture
def tokens():
    return np.random.default_rng(6).standard_normal((2, 5, 4))


@pytest.mark.parametrize("mode", ["class", "mean"])
def test_token_pool(tokens, mode):
    check_layer(TokenPool(mode), tokens)


def test_class_token_and_position_embedding(tokens):
    cls = ClassToken(4, rng=np.random.default_rng(1))
    assert cls.forward(tokens).shape == (2, 6, 4)
    check_layer(cls, tokens)
    check_layer(PositionEmbedding(5, 4, rng=np.random.default_rng(2)), tokens)


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_multi_head_attention(tokens, heads):
    layer = MultiHeadAttention(4, heads, rng=np.random.default_rng(3))
    rng = np.random.default_rng(4)
    for k in ("in_proj_bias", "out_proj.bias"):
        layer.params[k][:] = rng.standard_normal(layer.params[k].shape)
    check_layer(layer, tokens)


def test_attention_weights_sum_to_one_and_mix_only_within_an_example(tokens):
    layer = MultiHeadAttention(4, 2, rng=np.random.default_rng(3))
    y = layer.forward(tokens)
    assert np.allclose(layer.cache[4].sum(axis=-1), 1.0)  # each query's weights over the keys
    other = tokens.copy()
    other[1] += 1.0
    np.testing.assert_array_equal(layer.forward(other)[0], y[0])


def test_transformer_block(tokens):
    block = TransformerBlock(4, 2, 8, rng=np.random.default_rng(5), name="block1")
    names = [name for name, _ in block.named_layers()]
    assert names == [f"block1.{n}" for n in ("norm1", "self_attn", "norm2", "linear1", "activation", "linear2")]
    check_layer(block, tokens)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_cross_entropy(smoothing):
    rng = np.random.default_rng(3)
    z = rng.standard_normal((5, 4)) * 3
    y = np.array([0, 3, 1, 1, 2])
    loss = SoftmaxCrossEntropy(smoothing)
    loss.forward(z, y)
    analytic = loss.backward()
    numeric = numeric_grad(lambda: loss.forward(z, y), z)
    assert rel_error(analytic, numeric) < 1e-6


def test_cross_entropy_is_stable_for_huge_logits():
    loss = SoftmaxCrossEntropy()
    value = loss.forward(np.array([[1000.0, 0.0, -1000.0]]), np.array([0]))
    assert value == pytest.approx(0.0, abs=1e-12)
    assert np.isfinite(loss.backward()).all()
    assert loss.forward(np.array([[1000.0, 0.0]]), np.array([1])) == pytest.approx(1000.0)


def test_whole_model_input_gradient():
    from imgbench.specs import resolve

    spec = resolve(
        {
            "input_shape": [1, 12, 12],
            "num_classes": 3,
            "layers": [
                {"type": "conv2d", "filters": 2, "kernel_size": 3},
                {"type": "tanh"},
                {"type": "maxpool2d", "size": 2},
                {"type": "flatten"},
                {"type": "dense", "units": 3},
            ],
        }
    )
    model = NumpyModel(spec, seed=0, dtype=np.float64)
    X = np.random.default_rng(0).standard_normal((2, 1, 12, 12))
    y = np.array([0, 2])
    loss = SoftmaxCrossEntropy()
    loss.forward(model.forward(X, training=True), y)
    dX = model.input_gradient(loss.backward())
    numeric = numeric_grad(lambda: loss.forward(model.forward(X, training=True), y), X)
    assert rel_error(dX, numeric) < 1e-6


# --- vectorised against the slow loop reference ------------------------------------------


@pytest.mark.parametrize("blocked_above", [0, 1 << 40])  # every stride-1 layer in blocks; none (but 1x1)
@pytest.mark.parametrize("stride,pad,k", [(1, 0, 3), (2, 1, 3), (1, 2, 5), (2, 0, 2), (1, 0, 1), (1, 1, 1)])
def test_conv_matches_loop_reference(stride, pad, k, blocked_above, monkeypatch, threads):
    monkeypatch.setattr(_kernels, "BLOCKED_ABOVE_BYTES", blocked_above)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 9, 8))
    layer = Conv2D(3, 4, k, stride=stride, padding=pad, rng=rng).astype(np.float64)
    layer.needs_input_grad = True
    layer.params["bias"][:] = rng.standard_normal(4)
    y = layer.forward(x)
    np.testing.assert_allclose(
        y, ref.conv2d_loops(x, layer.params["weight"], layer.params["bias"], stride, pad), rtol=1e-12, atol=1e-12
    )
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    rdx, rdw, rdb = ref.conv2d_backward_loops(x, layer.params["weight"], dy, stride, pad)
    np.testing.assert_allclose(dx, rdx, atol=1e-12)
    np.testing.assert_allclose(layer.grads["weight"], rdw, atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], rdb, atol=1e-12)


@pytest.mark.parametrize("stride,pad,k", [(1, 0, 3), (2, 1, 3), (1, 2, 5), (2, 0, 2)])
def test_depthwise_conv_matches_loop_reference(stride, pad, k, threads):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 9, 8))
    layer = DepthwiseConv2D(3, k, stride=stride, padding=pad, rng=rng).astype(np.float64)
    layer.params["bias"][:] = rng.standard_normal(3)
    w = layer.params["weight"]
    y = layer.forward(x)
    np.testing.assert_allclose(y, ref.depthwise_conv2d_loops(x, w, layer.params["bias"], stride, pad), atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    rdx, rdw, rdb = ref.depthwise_conv2d_backward_loops(x, w, dy, stride, pad)
    np.testing.assert_allclose(dx, rdx, atol=1e-12)
    np.testing.assert_allclose(layer.grads["weight"], rdw, atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], rdb, atol=1e-12)


@pytest.mark.parametrize("cls,mode,fill", [(MaxPool2D, "max", -np.inf), (AvgPool2D, "avg", 0.0)])
def test_padded_pool_matches_loop_reference_on_a_padded_input(cls, mode, fill):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 3, 7, 6))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=fill)
    layer = cls(3, 2, 1)
    y = layer.forward(x)
    ry, arg = ref.pool2d_loops(xp, 3, 2, mode)
    np.testing.assert_allclose(y, ry, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    rdx = ref.pool2d_backward_loops(xp.shape, dy, 3, 2, arg if mode == "max" else None)[:, :, 1:-1, 1:-1]
    np.testing.assert_allclose(layer.backward(dy), rdx, atol=1e-12)


@pytest.mark.parametrize(
    "cls,mode,k,s",
    [(MaxPool2D, "max", 2, 2), (MaxPool2D, "max", 3, 2), (AvgPool2D, "avg", 2, 2), (AvgPool2D, "avg", 3, 1)],
)
def test_pool_matches_loop_reference(cls, mode, k, s):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 9, 7))
    layer = cls(k, s)
    y = layer.forward(x)
    ry, arg = ref.pool2d_loops(x, k, s, mode)
    np.testing.assert_allclose(y, ry, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(
        layer.backward(dy), ref.pool2d_backward_loops(x.shape, dy, k, s, arg if mode == "max" else None), atol=1e-12
    )


def test_maxpool_ties_send_gradient_to_first_maximum():
    x = np.zeros((1, 1, 2, 2))
    layer = MaxPool2D(2)
    layer.forward(x)
    dx = layer.backward(np.ones((1, 1, 1, 1)))
    assert dx.ravel().tolist() == [1.0, 0.0, 0.0, 0.0]


def test_threaded_copies_match_serial(monkeypatch):
    """The channel-split threads of im2col and col2im give exactly the serial result."""
    from imgbench.engines.numpy import parallel

    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 9, 9)).astype(np.float32)
    results = []
    for min_elements, threads in ((1 << 40, "1"), (0, "2")):
        monkeypatch.setattr(parallel, "MIN_ELEMENTS", min_elements)
        monkeypatch.setenv("IMGBENCH_NUMPY_THREADS", threads)
        layer = Conv2D(4, 5, 3, padding=1, rng=np.random.default_rng(0))
        strided = Conv2D(4, 5, 3, stride=2, rng=np.random.default_rng(0))
        first = Conv2D(1, 5, 3, rng=np.random.default_rng(0))  # C=1: split over kernel rows
        y = layer.forward(x)
        dy = np.ones_like(y)
        ys = strided.forward(x)
        yf = first.forward(x[:, :1])
        results.append((y, layer.backward(dy), ys, strided.backward(np.ones_like(ys)), yf))
    for serial, threaded in zip(*results, strict=True):
        np.testing.assert_array_equal(serial, threaded)

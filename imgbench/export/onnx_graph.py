"""An ONNX graph built from a resolved spec and a :meth:`~imgbench.engines.base.Engine.state_dict`.

Every engine's ``state_dict()`` has the same names and layouts (conv kernels ``(out, in, kh, kw)``,
dense kernels ``(out, in)``), so one builder serves them all.  The graph takes NCHW float32 images,
already normalised, with a free batch dimension, and gives ``(N, num_classes)`` logits: the
:meth:`~imgbench.engines.base.Engine.predict_logits` contract.  BatchNorm is exported as ONNX's
inference-mode ``BatchNormalization`` with the running statistics; dropout is the identity.  Token
layers take and give ``(N, T, D)``; attention is ``MatMul`` and ``Softmax`` per head, as the NumPy engine
computes it.

One builder per layer type, in :data:`BUILDERS` keyed like the engines' tables: a builder takes the
graph under construction, the layer and the name of its input, and returns the name of its output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import ImgbenchError
from ..specs.layerdef import padding_amount

OPSET = 17  # LayerNormalization; onnxruntime >= 1.14 runs it
INPUT, OUTPUT = "input", "logits"


class Graph:
    """The nodes and initialisers of a graph under construction; names are unique by construction."""

    def __init__(self, state: Mapping[str, np.ndarray]) -> None:
        import onnx

        self.helper = onnx.helper
        self.numpy_helper = onnx.numpy_helper
        self.state = state
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}:{self._count}"

    def weight(self, name: str) -> str:
        """The state entry ``name`` as a float32 initialiser (added once); its name in the graph."""
        if name not in self.state:
            raise ImgbenchError(f"the weights have no '{name}' (does the run's spec match its weights?)")
        if not any(init.name == name for init in self.initializers):
            array = np.ascontiguousarray(self.state[name], dtype=np.float32)
            self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def constant(self, hint: str, value: np.ndarray) -> str:
        """A constant (a shape, a scalar) as an initialiser; its name in the graph."""
        name = self._fresh(hint)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        """Append one node; returns its (single) output's name."""
        out = self._fresh(hint)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


Builder = Callable[[Graph, dict[str, Any], str], str]


def _params(g: Graph, layer: dict[str, Any], *names: str) -> list[str]:
    return [g.weight(f"{layer['name']}.{n}") for n in names]


def _dense(g: Graph, layer: dict[str, Any], x: str) -> str:
    inputs = _params(g, layer, "weight", *(["bias"] if layer["bias"] else []))
    return g.op("Gemm", [x, *inputs], layer["name"], transB=1)  # y = x W^T + b, W stored (out, in)


def _conv(g: Graph, layer: dict[str, Any], x: str, group: int = 1) -> str:
    inputs = _params(g, layer, "weight", *(["bias"] if layer["bias"] else []))
    k, s, p = int(layer["kernel_size"]), int(layer["stride"]), padding_amount(layer)
    return g.op("Conv", [x, *inputs], layer["name"], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4, group=group)


def _depthwise(g: Graph, layer: dict[str, Any], x: str) -> str:
    channels = int(layer["output_shape"][0])  # depth multiplier 1: one filter, one group per channel
    return _conv(g, layer, x, group=channels)


def _pool(op_type: str, **extra: Any) -> Builder:
    def build(g: Graph, layer: dict[str, Any], x: str) -> str:
        k, s, p = int(layer["size"]), int(layer["stride"]), padding_amount(layer)
        return g.op(op_type, [x], layer["name"], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4, **extra)

    return build


def _gap(g: Graph, layer: dict[str, Any], x: str) -> str:
    return g.op("Flatten", [g.op("GlobalAveragePool", [x], layer["name"])], layer["name"], axis=1)


def _flatten(g: Graph, layer: dict[str, Any], x: str) -> str:
    return g.op("Flatten", [x], layer["name"], axis=1)  # NCHW in C order, as every engine flattens


def _identity(g: Graph, layer: dict[str, Any], x: str) -> str:
    return g.op("Identity", [x], layer["name"])


def _batchnorm(g: Graph, layer: dict[str, Any], x: str) -> str:
    inputs = _params(g, layer, "weight", "bias", "running_mean", "running_var")
    return g.op("BatchNormalization", [x, *inputs], layer["name"], epsilon=float(layer["eps"]))


def _layernorm(g: Graph, layer: dict[str, Any], x: str) -> str:
    scale, shift = _params(g, layer, "weight", "bias")
    eps = float(layer["eps"])
    if len(layer["output_shape"]) != 3:  # (F,) or (T, D): the last axis is the feature axis
        return g.op("LayerNormalization", [x, scale, shift], layer["name"], axis=-1, epsilon=eps)
    # (C, H, W): over the channels at each position, so the channels go last and back
    nhwc = g.op("Transpose", [x], layer["name"], perm=[0, 2, 3, 1])
    y = g.op("LayerNormalization", [nhwc, scale, shift], layer["name"], axis=-1, epsilon=eps)
    return g.op("Transpose", [y], layer["name"], perm=[0, 3, 1, 2])


def _elementwise(op_type: str, **attrs: Any) -> Builder:
    def build(g: Graph, layer: dict[str, Any], x: str) -> str:
        return g.op(op_type, [x], layer["name"], **attrs)

    return build


def _leakyrelu(g: Graph, layer: dict[str, Any], x: str) -> str:
    return g.op("LeakyRelu", [x], layer["name"], alpha=float(layer["negative_slope"]))


def _relu6(g: Graph, layer: dict[str, Any], x: str) -> str:
    low, high = g.constant("zero", np.float32(0.0)), g.constant("six", np.float32(6.0))
    return g.op("Clip", [x, low, high], layer["name"])


def _silu(g: Graph, layer: dict[str, Any], x: str) -> str:
    return g.op("Mul", [x, g.op("Sigmoid", [x], layer["name"])], layer["name"])


def _gelu(g: Graph, layer: dict[str, Any], x: str) -> str:
    # exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)); ONNX has no Gelu op before opset 20
    scaled = g.op("Mul", [x, g.constant("inv_sqrt2", np.float32(1 / math.sqrt(2)))], layer["name"])
    one_plus = g.op("Add", [g.op("Erf", [scaled], layer["name"]), g.constant("one", np.float32(1.0))], layer["name"])
    half_x = g.op("Mul", [x, g.constant("half", np.float32(0.5))], layer["name"])
    return g.op("Mul", [half_x, one_plus], layer["name"])


# --- tokens (N, T, D): the maths of imgbench.engines.numpy.tokens and .attention ---------------------


def _linear(g: Graph, x: str, weight: str, bias: str) -> str:
    """``x W^T + b`` on the last axis of tokens, with the weight stored (out, in)."""
    # MatMul broadcasts over (N, T); Gemm would take 2-d inputs only
    return g.op("Add", [g.op("MatMul", [x, g.op("Transpose", [weight], weight)], weight), bias], weight)


def _sublayer(g: Graph, prefix: str) -> list[str]:
    return [g.weight(f"{prefix}.weight"), g.weight(f"{prefix}.bias")]


def _patchembed(g: Graph, layer: dict[str, Any], x: str) -> str:
    # a convolution with kernel = stride = p gives (N, D, H/p, W/p); its grid read row by row is the token order
    p, (_, dim) = int(layer["patch_size"]), layer["output_shape"]
    inputs = _params(g, layer, "weight", *(["bias"] if layer["bias"] else []))
    maps = g.op("Conv", [x, *inputs], layer["name"], kernel_shape=[p, p], strides=[p, p])
    rows = g.op("Reshape", [maps, g.constant("shape", np.array([0, dim, -1], np.int64))], layer["name"])
    return g.op("Transpose", [rows], layer["name"], perm=[0, 2, 1])


def _classtoken(g: Graph, layer: dict[str, Any], x: str) -> str:
    name, dim = layer["name"], int(layer["output_shape"][1])
    token = g.op("Reshape", [g.weight(f"{name}.token"), g.constant("shape", np.array([1, 1, dim], np.int64))], name)
    batch = g.op("Shape", [x], name, start=0, end=1)
    ones = g.constant("ones", np.array([1, 1], np.int64))
    first = g.op("Expand", [token, g.op("Concat", [batch, ones], name, axis=0)], name)  # (N, 1, D)
    return g.op("Concat", [first, x], name, axis=1)


def _posembed(g: Graph, layer: dict[str, Any], x: str) -> str:
    return g.op("Add", [x, *_params(g, layer, "embedding")], layer["name"])  # (T, D) broadcast over the batch


def _mha(g: Graph, layer: dict[str, Any], x: str) -> str:
    name, (tokens, dim), heads = layer["name"], layer["output_shape"], int(layer["heads"])
    width = dim // heads
    qkv = _linear(g, x, *_params(g, layer, "in_proj_weight", "in_proj_bias"))  # (N, T, 3D)
    split = g.constant("shape", np.array([-1, tokens, 3, heads, width], np.int64))
    stacked = g.op("Transpose", [g.op("Reshape", [qkv, split], name)], name, perm=[2, 0, 3, 1, 4])  # (3, N, H, T, d)
    q, k, v = (g.op("Gather", [stacked, g.constant("index", np.array(i, np.int64))], name, axis=0) for i in range(3))
    scores = g.op("MatMul", [q, g.op("Transpose", [k], name, perm=[0, 1, 3, 2])], name)
    scaled = g.op("Mul", [scores, g.constant("scale", np.float32(1.0 / np.sqrt(width)))], name)
    weights = g.op("Softmax", [scaled], name, axis=-1)  # (N, H, T, T): over the keys
    heads_out = g.op("Transpose", [g.op("MatMul", [weights, v], name)], name, perm=[0, 2, 1, 3])  # (N, T, H, d)
    joined = g.op("Reshape", [heads_out, g.constant("shape", np.array([-1, tokens, dim], np.int64))], name)
    return _linear(g, joined, *_sublayer(g, f"{name}.out_proj"))


def _transformer(g: Graph, layer: dict[str, Any], x: str) -> str:
    # pre-norm: h = x + self_attn(norm1(x)), y = h + linear2(gelu(linear1(norm2(h)))), PyTorch's sublayer names
    name, shape = layer["name"], layer["output_shape"]

    def sub(part: str, **keys: Any) -> dict[str, Any]:
        return {"name": f"{name}.{part}", "output_shape": shape, **keys}

    attended = _mha(g, sub("self_attn", heads=layer["heads"]), _layernorm(g, sub("norm1", eps=layer["eps"]), x))
    h = g.op("Add", [x, attended], name)
    z = _layernorm(g, sub("norm2", eps=layer["eps"]), h)
    hidden = _gelu(g, sub("activation"), _linear(g, z, *_sublayer(g, f"{name}.linear1")))
    return g.op("Add", [h, _linear(g, hidden, *_sublayer(g, f"{name}.linear2"))], name)


def _tokenpool(g: Graph, layer: dict[str, Any], x: str) -> str:
    if layer["mode"] == "class":  # the first token
        return g.op("Gather", [x, g.constant("index", np.array(0, np.int64))], layer["name"], axis=1)
    return g.op("ReduceMean", [x], layer["name"], axes=[1], keepdims=0)  # axes an attribute until opset 18


def _layers(g: Graph, layers: list[dict[str, Any]], x: str) -> str:
    for layer in layers:
        x = builder(layer["type"])(g, layer, x)
    return x


def _residual(g: Graph, layer: dict[str, Any], x: str) -> str:
    main, shortcut = _layers(g, layer["layers"], x), _layers(g, layer["shortcut"], x)
    return g.op("Add", [main, shortcut], layer["name"])


def _concat(g: Graph, layer: dict[str, Any], x: str) -> str:
    outs = [_layers(g, branch, x) for branch in layer["branches"]]
    return g.op("Concat", outs, layer["name"], axis=1)  # the channel (or feature) axis


BUILDERS: dict[str, Builder] = {
    "dense": _dense,
    "conv2d": _conv,
    "depthwiseconv2d": _depthwise,
    "maxpool2d": _pool("MaxPool"),  # ONNX's padding never wins a max, like -infinity
    "avgpool2d": _pool("AveragePool", count_include_pad=1),  # PyTorch's count_include_pad
    "globalavgpool2d": _gap,
    "flatten": _flatten,
    "dropout": _identity,  # the identity at inference
    "batchnorm": _batchnorm,
    "layernorm": _layernorm,
    "relu": _elementwise("Relu"),
    "relu6": _relu6,
    "leakyrelu": _leakyrelu,
    "sigmoid": _elementwise("Sigmoid"),
    "tanh": _elementwise("Tanh"),
    "silu": _silu,
    "softmax": _elementwise("Softmax", axis=1),  # the channel / feature axis
    "gelu": _gelu,
    "residual": _residual,
    "concat": _concat,
    "patchembed": _patchembed,
    "classtoken": _classtoken,
    "posembed": _posembed,
    "mha": _mha,
    "transformer": _transformer,
    "tokenpool": _tokenpool,
}


def builder(layer_type: str) -> Builder:
    """The builder of ``layer_type``; a type without one is an :class:`ImgbenchError` naming it."""
    if layer_type not in BUILDERS:
        raise ImgbenchError(
            f"layer type '{layer_type}' cannot be exported to ONNX from the spec yet "
            f"(exportable: {', '.join(BUILDERS)})"
        )
    return BUILDERS[layer_type]


def check_exportable(spec: Mapping[str, Any]) -> None:
    """Raise the :func:`builder` error for the first layer type of ``spec`` that has no builder."""
    from ..specs import walk

    for layer in walk(spec["layers"]):
        builder(layer["type"])


def build_model(spec: Mapping[str, Any], state: Mapping[str, np.ndarray]) -> Any:
    """The ``onnx.ModelProto`` of ``spec`` with the weights ``state``, checked by ``onnx.checker``."""
    import onnx

    check_exportable(spec)
    g = Graph(state)
    y = _layers(g, spec["layers"], INPUT)
    g.nodes.append(g.helper.make_node("Identity", [y], [OUTPUT], name=OUTPUT))
    shape = ["batch", *spec["input_shape"]]
    graph = g.helper.make_graph(
        g.nodes,
        spec["name"],
        [g.helper.make_tensor_value_info(INPUT, onnx.TensorProto.FLOAT, shape)],
        [g.helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT, ["batch", spec["num_classes"]])],
        g.initializers,
    )
    model = g.helper.make_model(graph, opset_imports=[g.helper.make_opsetid("", OPSET)], producer_name="imgbench")
    model.ir_version = 8  # what onnxruntime 1.14 and later read
    onnx.checker.check_model(model)
    return model

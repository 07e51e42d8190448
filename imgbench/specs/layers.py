"""The layer registry: one :class:`LayerDef` per layer type.

Everything imgbench knows about a layer type lives in its entry: the keys it
takes, their defaults and how each is checked, the output shape it gives for
an input shape, the number of parameters it trains, the short name used for
automatic layer names (``conv1``, ``pool2``, ...), and flags that other code
asks about instead of naming types.  Each engine keeps one builder table
keyed by the same type names; a parametrised test builds every registered
type in every engine.

Shapes are per example: ``(C, H, W)`` for images and feature maps, ``(F,)``
for flat features, ``(T, D)`` for tokens.  This module holds the rows of the
image, feature and block layers; the token layers' rows are in
:mod:`.tokens`.  Composite blocks (``residual``, ``concat``) are entries too:
their ``children`` keys hold nested layer lists (or, for ``concat``, lists of
branches), resolved with the block's name as a prefix.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import did_you_mean
from .keys import (
    BOOL,
    BRANCHES,
    FRACTION,
    INIT,
    LAYER_LIST,
    NUMBER,
    PADDING,
    POSITIVE,
    POSITIVE_INT,
    RATE,
    UNITS,
    Key,
    SpecError,
)
from .layerdef import (
    LayerDef,
    LayerSpec,
    Shape,
    conv_out,
    feature_count,
    needs_rank,
    padding_amount,
    same_shape,
)
from .tokens import TOKEN_DEFS

# --- shapes ------------------------------------------------------------------------------


def _flat_or_maps(layer: LayerSpec, shape: Shape) -> Shape:
    needs_rank(layer, shape, (1, 3), "an (F,) or (C, H, W) input")
    return shape


def _features(layer: LayerSpec, shape: Shape) -> Shape:
    needs_rank(layer, shape, (1, 2, 3), "an (F,), (T, D) or (C, H, W) input")
    return shape


def _dense_shape(layer: LayerSpec, shape: Shape) -> Shape:
    if len(shape) != 1:
        raise SpecError(f"{layer['name']}: dense needs a flat input, got shape {shape}; add a flatten layer")
    return (layer["units"],)


def _conv_grid(layer: LayerSpec, shape: Shape) -> tuple[int, int]:
    """``(Ho, Wo)`` of a convolution's output grid."""
    needs_rank(layer, shape, (3,), "a (C, H, W) input")
    k, s, p = layer["kernel_size"], layer["stride"], padding_amount(layer)
    h, w = conv_out(shape[1], k, s, p), conv_out(shape[2], k, s, p)
    if h < 1 or w < 1:
        raise SpecError(f"{layer['name']}: a {k}x{k} kernel does not fit a {shape[1]}x{shape[2]} input")
    return h, w


def _conv_shape(layer: LayerSpec, shape: Shape) -> Shape:
    return (layer["filters"], *_conv_grid(layer, shape))


def _depthwise_shape(layer: LayerSpec, shape: Shape) -> Shape:
    return (shape[0], *_conv_grid(layer, shape))


def _pool_shape(layer: LayerSpec, shape: Shape) -> Shape:
    k, s, p = layer["size"], layer["stride"], padding_amount(layer)
    if len(shape) != 3 or shape[1] + 2 * p < k or shape[2] + 2 * p < k:
        raise SpecError(f"{layer['name']}: a {k}x{k} pool does not fit input {shape}")
    if 2 * p > k:  # a window could then lie wholly in the padding
        raise SpecError(f"{layer['name']}: padding {p} is more than half the {k}x{k} window")
    return (shape[0], conv_out(shape[1], k, s, p), conv_out(shape[2], k, s, p))


def _gap_shape(layer: LayerSpec, shape: Shape) -> Shape:
    needs_rank(layer, shape, (3,), "a (C, H, W) input")
    return (shape[0],)


def _flatten_shape(layer: LayerSpec, shape: Shape) -> Shape:
    return (math.prod(shape),)


def branch_shape(layers: list[LayerSpec], shape: Shape) -> Shape:
    """Output shape of a resolved layer list applied to ``shape`` (``shape`` itself when empty)."""
    return tuple(layers[-1]["output_shape"]) if layers else shape


def _residual_shape(layer: LayerSpec, shape: Shape) -> Shape:
    main, short = branch_shape(layer["layers"], shape), branch_shape(layer["shortcut"], shape)
    if main != short:
        raise SpecError(f"{layer['name']}: main branch gives {main} but the shortcut gives {short}")
    return main


def _concat_shape(layer: LayerSpec, shape: Shape) -> Shape:
    outs = [branch_shape(branch, shape) for branch in layer["branches"]]
    if any(len(out) not in (1, 3) for out in outs) or len({out[1:] for out in outs}) > 1:
        raise SpecError(
            f"{layer['name']}: concat joins (C, H, W) or (F,) branches on their first axis, "
            f"so they must agree on the others; they give {outs}"
        )
    return (sum(out[0] for out in outs), *outs[0][1:])


# --- parameter counts (trainable only: running statistics are buffers) ---------------------


def _dense_params(layer: LayerSpec, shape: Shape) -> int:
    units: int = layer["units"]
    return shape[0] * units + (units if layer["bias"] else 0)


def _conv_params(layer: LayerSpec, shape: Shape) -> int:
    f, k = int(layer["filters"]), int(layer["kernel_size"])
    return f * shape[0] * k * k + (f if layer["bias"] else 0)


def _depthwise_params(layer: LayerSpec, shape: Shape) -> int:
    c, k = shape[0], int(layer["kernel_size"])
    return c * k * k + (c if layer["bias"] else 0)


def _per_feature_affine(layer: LayerSpec, shape: Shape) -> int:
    return 2 * feature_count(shape)  # a scale and a shift per channel (or feature)


# --- derived values -------------------------------------------------------------------------


def _units_from_classes(layer: LayerSpec, num_classes: int) -> None:
    if layer.get("units") == "num_classes":
        layer["units"] = num_classes


def _stride_from_size(layer: LayerSpec, num_classes: int) -> None:
    if layer.get("stride") is None:
        layer["stride"] = layer.get("size")


# --- the registry -------------------------------------------------------------------------


def _pool(name: str, example: Mapping[str, Any], example_input: Shape) -> LayerDef:
    """Pooling over size x size windows; the stride is the size unless given; no padding unless given."""
    return LayerDef(
        name,
        "pool",
        _pool_shape,
        example,
        example_input,
        keys={"size": POSITIVE_INT, "stride": POSITIVE_INT, "padding": PADDING},
        defaults={"size": 2, "stride": None, "padding": "valid"},
        derive=_stride_from_size,
        has_feature_maps=True,
    )


def _activation(name: str, keys: Mapping[str, Key] | None = None, **defaults: Any) -> LayerDef:
    """An elementwise layer: output shape = input shape, no parameters, named after its type."""
    return LayerDef(name, name, same_shape, dict(defaults), (2, 3, 3), keys=keys or {}, defaults=defaults)


_CONV_KEYS = {"kernel_size": POSITIVE_INT, "stride": POSITIVE_INT, "padding": PADDING, "bias": BOOL, "init": INIT}
_CONV_DEFAULTS = {"stride": 1, "padding": "valid", "bias": True, "init": "he_uniform"}

_DEFS = (
    # y = x W^T + b; units: a number or 'num_classes'
    LayerDef(
        "dense",
        "dense",
        _dense_shape,
        {"units": 3},
        (4,),
        keys={"units": UNITS, "bias": BOOL, "init": INIT},
        defaults={"bias": True, "init": "he_uniform"},
        params=_dense_params,
        derive=_units_from_classes,
        classifier=True,
    ),
    # cross-correlation, as in every framework; padding 'valid', 'same' or an integer
    LayerDef(
        "conv2d",
        "conv",
        _conv_shape,
        {"filters": 3, "kernel_size": 3, "stride": 2, "padding": 1},
        (2, 5, 5),
        keys={"filters": POSITIVE_INT, **_CONV_KEYS},
        defaults=_CONV_DEFAULTS,
        params=_conv_params,
        has_feature_maps=True,
        convolutional=True,
    ),
    # one k x k filter per channel (depth multiplier 1), weight (C, 1, k, k); a 1x1 conv2d mixes the channels
    LayerDef(
        "depthwiseconv2d",
        "dwconv",
        _depthwise_shape,
        {"kernel_size": 3, "stride": 2, "padding": 1},
        (2, 5, 5),
        keys=_CONV_KEYS,
        defaults=_CONV_DEFAULTS,
        params=_depthwise_params,
        has_feature_maps=True,
        convolutional=True,
    ),
    # the maximum of each window (padding never wins: it counts as -infinity)
    _pool("maxpool2d", {"size": 3, "stride": 2}, (2, 5, 5)),
    # the mean of each window (padding counts as zeros, PyTorch's count_include_pad)
    _pool("avgpool2d", {"size": 2}, (2, 4, 4)),
    LayerDef("globalavgpool2d", "gap", _gap_shape, {}, (3, 3, 3)),  # (C, H, W) -> (C,): the mean of each map
    LayerDef("flatten", "flatten", _flatten_shape, {}, (2, 3, 3)),  # (C, H, W) -> (C*H*W,) in C order
    # inverted dropout while training; the identity at inference
    LayerDef(
        "dropout",
        "dropout",
        same_shape,
        {"rate": 0.3},
        (6,),
        keys={"rate": RATE},
        defaults={"rate": 0.5},
        mixes_batch=True,  # one mask stream for the whole batch: a half-batch would draw other masks
        identity_at_inference=True,
    ),
    # per channel, 1-d or 2-d from the input; PyTorch's momentum convention
    LayerDef(
        "batchnorm",
        "bn",
        _flat_or_maps,
        {"momentum": 0.2},
        (3, 2, 2),
        keys={"momentum": FRACTION, "eps": POSITIVE},
        defaults={"momentum": 0.1, "eps": 1e-5},
        params=_per_feature_affine,
        mixes_batch=True,  # statistics over the batch
    ),
    # per example, over the feature axis: the F features of (F,), the D of each token of (T, D),
    # the C channels at each position of (C, H, W)
    LayerDef(
        "layernorm",
        "ln",
        _features,
        {"eps": 1e-3},
        (3, 2, 2),
        keys={"eps": POSITIVE},
        defaults={"eps": 1e-5},
        params=_per_feature_affine,
    ),
    _activation("relu"),
    LayerDef("relu6", "relu6_", same_shape, {}, (2, 3, 3)),  # min(max(x, 0), 6) (MobileNet); named relu6_1, ...
    _activation("leakyrelu", {"negative_slope": NUMBER}, negative_slope=0.01),
    _activation("sigmoid"),
    _activation("tanh"),
    _activation("silu"),  # x * sigmoid(x), also called swish
    # over the channel / feature axis (not tokens: their feature axis is another one in each framework)
    LayerDef("softmax", "softmax", _flat_or_maps, {}, (2, 3, 3)),
    _activation("gelu"),  # exact: x * Phi(x) with the normal CDF Phi (erf), not the tanh approximation
    # y = main(x) + shortcut(x); 'shortcut': projection layers, the identity when empty
    LayerDef(
        "residual",
        "res",
        _residual_shape,
        {
            "layers": [{"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": "same"}, {"type": "tanh"}],
            "shortcut": [{"type": "conv2d", "filters": 3, "kernel_size": 1}],
        },
        (2, 4, 4),
        keys={"layers": LAYER_LIST, "shortcut": LAYER_LIST},
        defaults={"shortcut": []},
        children={"layers": ".", "shortcut": ".sc."},
        has_feature_maps=True,
    ),
    # y = the branches' outputs side by side on the channel axis (Inception); an empty branch passes x on
    LayerDef(
        "concat",
        "cat",
        _concat_shape,
        {
            "branches": [
                [{"type": "conv2d", "filters": 2, "kernel_size": 1}],
                [{"type": "maxpool2d", "size": 3, "stride": 1, "padding": 1}, {"type": "silu"}],
                [],
            ]
        },
        (2, 4, 4),
        keys={"branches": BRANCHES},
        children={"branches": ".b"},  # cat1.b1.conv1, cat1.b2.pool1, ...
        parallel=True,
        has_feature_maps=True,
    ),
)
LAYERS: dict[str, LayerDef] = {d.type: d for d in (*_DEFS, *TOKEN_DEFS)}


def layer_def(type_name: Any) -> LayerDef:
    """The registry entry for ``type_name`` (any case); :class:`SpecError` with a suggestion if unknown."""
    kind = type_name.lower() if isinstance(type_name, str) else ""
    if kind not in LAYERS:
        hint = did_you_mean(kind, LAYERS) if kind else ""
        raise SpecError(f"unknown layer type '{type_name}'{hint}: expected one of {', '.join(LAYERS)}")
    return LAYERS[kind]


def child_lists(layer: LayerSpec) -> Iterator[tuple[list[LayerSpec], str]]:
    """Each layer list nested in a block, with the name prefix of its layers (``res1.``, ``res1.sc.``, ``cat1.b2.``)."""
    ldef = LAYERS[layer["type"]]
    for key, suffix in ldef.children.items():
        if ldef.parallel:
            for i, branch in enumerate(layer[key], 1):
                yield branch, f"{layer['name']}{suffix}{i}."
        else:
            yield layer[key], layer["name"] + suffix


def walk(layers: list[LayerSpec]) -> Iterator[LayerSpec]:
    """Every layer of a resolved list, depth first: a block, then its children in key (and branch) order."""
    for layer in layers:
        yield layer
        for branch, _ in child_lists(layer):
            yield from walk(branch)


def _any_layer(spec: Mapping[str, Any], flag: str) -> bool:
    return any(getattr(LAYERS[layer["type"]], flag) for layer in walk(spec["layers"]))


def is_convolutional(spec: Mapping[str, Any]) -> bool:
    """Whether a resolved spec has a learned convolution anywhere (nested blocks included)."""
    return _any_layer(spec, "convolutional")


def mixes_batch(spec: Mapping[str, Any]) -> bool:
    """Whether some layer's output for one example depends on the rest of the batch."""
    return _any_layer(spec, "mixes_batch")


def types_with(flag: str) -> frozenset[str]:
    """The layer types whose entry sets ``flag`` (e.g. ``"has_feature_maps"``)."""
    return frozenset(t for t, d in LAYERS.items() if getattr(d, flag))

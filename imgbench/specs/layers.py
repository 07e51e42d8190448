"""The layer registry: one :class:`LayerDef` per layer type.

Everything imgbench knows about a layer type lives in its entry: the keys it
takes, their defaults and how each is checked, the output shape it gives for
an input shape, the number of parameters it trains, the short name used for
automatic layer names (``conv1``, ``pool2``, ...), and flags that other code
asks about instead of naming types.  Each engine keeps one builder table
keyed by the same type names; a parametrised test builds every registered
type in every engine.

Shapes are per example: ``(C, H, W)`` for images and feature maps, ``(F,)``
for flat features.  Composite blocks (``residual``) are entries too: their
``children`` keys hold nested layer lists, resolved with the block's name as
a prefix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .keys import (
    BOOL,
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
    did_you_mean,
)

Shape = tuple[int, ...]
LayerSpec = dict[str, Any]


# --- shapes and sizes ---------------------------------------------------------------------


def conv_out(size: int, k: int, stride: int, pad: int) -> int:
    """Output length of a convolution or pooling window along one axis: ``(size + 2 pad - k) // stride + 1``."""
    return (size + 2 * pad - k) // stride + 1


def padding_amount(layer: LayerSpec) -> int:
    """The integer padding of a resolved conv2d layer (``same``: keeps the size at stride 1, odd kernels)."""
    p = layer["padding"]
    if p == "valid":
        return 0
    if p == "same":
        k = int(layer["kernel_size"])
        if k % 2 == 0:
            raise SpecError(f"{layer['name']}: padding 'same' needs an odd kernel size, got {k}")
        return (k - 1) // 2
    return int(p)


def conv_arguments(layer: LayerSpec, in_shape: Shape) -> tuple[int, int, int, int, int, bool]:
    """``(in_channels, filters, kernel_size, stride, padding, bias)`` of a resolved conv2d layer (integer padding)."""
    return in_shape[0], layer["filters"], layer["kernel_size"], layer["stride"], padding_amount(layer), layer["bias"]


def _needs_rank(layer: LayerSpec, shape: Shape, ranks: tuple[int, ...], what: str) -> None:
    if len(shape) not in ranks:
        raise SpecError(f"{layer['name']}: {layer['type']} needs {what}, got {shape}")


def _same(layer: LayerSpec, shape: Shape) -> Shape:
    return shape


def _flat_or_maps(layer: LayerSpec, shape: Shape) -> Shape:
    _needs_rank(layer, shape, (1, 3), "an (F,) or (C, H, W) input")
    return shape


def _dense_shape(layer: LayerSpec, shape: Shape) -> Shape:
    if len(shape) != 1:
        raise SpecError(f"{layer['name']}: dense needs a flat input, got shape {shape}; add a flatten layer")
    return (layer["units"],)


def _conv_shape(layer: LayerSpec, shape: Shape) -> Shape:
    _needs_rank(layer, shape, (3,), "a (C, H, W) input")
    k, s, p = layer["kernel_size"], layer["stride"], padding_amount(layer)
    h, w = conv_out(shape[1], k, s, p), conv_out(shape[2], k, s, p)
    if h < 1 or w < 1:
        raise SpecError(f"{layer['name']}: a {k}x{k} kernel does not fit a {shape[1]}x{shape[2]} input")
    return (layer["filters"], h, w)


def _pool_shape(layer: LayerSpec, shape: Shape) -> Shape:
    k, s = layer["size"], layer["stride"]
    if len(shape) != 3 or shape[1] < k or shape[2] < k:
        raise SpecError(f"{layer['name']}: a {k}x{k} pool does not fit input {shape}")
    return (shape[0], conv_out(shape[1], k, s, 0), conv_out(shape[2], k, s, 0))


def _gap_shape(layer: LayerSpec, shape: Shape) -> Shape:
    _needs_rank(layer, shape, (3,), "a (C, H, W) input")
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


# --- parameter counts (trainable only: running statistics are buffers) ---------------------


def _dense_params(layer: LayerSpec, shape: Shape) -> int:
    units: int = layer["units"]
    return shape[0] * units + (units if layer["bias"] else 0)


def _conv_params(layer: LayerSpec, shape: Shape) -> int:
    f, k = int(layer["filters"]), int(layer["kernel_size"])
    return f * shape[0] * k * k + (f if layer["bias"] else 0)


def _per_channel_affine(layer: LayerSpec, shape: Shape) -> int:
    return 2 * shape[0]  # a scale and a shift per channel (or feature)


# --- derived values -------------------------------------------------------------------------


def _units_from_classes(layer: LayerSpec, num_classes: int) -> None:
    if layer.get("units") == "num_classes":
        layer["units"] = num_classes


def _stride_from_size(layer: LayerSpec, num_classes: int) -> None:
    if layer.get("stride") is None:
        layer["stride"] = layer.get("size")


# --- the registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerDef:
    """Everything imgbench knows about one layer type.

    ``keys`` lists every key the type takes (besides ``type``, ``name`` and
    ``output_shape``) with its check; ``defaults`` gives the optional ones,
    the rest are required.  ``example`` holds the keys of a small layer of
    this type and ``example_input`` an input shape it fits: the registry test
    builds it in every engine.
    """

    type: str
    short: str
    output_shape: Callable[[LayerSpec, Shape], Shape]
    example: Mapping[str, Any]
    example_input: Shape
    keys: Mapping[str, Key] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    params: Callable[[LayerSpec, Shape], int] | None = None  # None: no trainable parameters of its own
    derive: Callable[[LayerSpec, int], None] | None = None  # fills values that depend on other keys
    children: Mapping[str, str] = field(default_factory=dict)  # nested layer-list key -> name suffix
    mixes_batch: bool = False  # an example's output depends on the rest of the batch
    has_feature_maps: bool = False  # its (C, H, W) output is worth drawing as feature maps
    convolutional: bool = False  # a learned convolution (channels-last and half-batch pay off)
    classifier: bool = False  # a learned map of flat features: the last one gives the logits
    identity_at_inference: bool = False  # skipped when looking for the layer that feeds the classifier

    @property
    def has_params(self) -> bool:
        """Whether the layer trains parameters of its own (children not counted)."""
        return self.params is not None

    def check(self, layer: LayerSpec, num_classes: int) -> None:
        """Fill derived values, then check ``layer``'s keys: none unknown, none missing, each acceptable."""
        if not isinstance(layer["name"], str) or not layer["name"]:
            raise SpecError(f"a {self.type} layer's name must be a non-empty string, got {layer['name']!r}")
        known = {"type", "name", "output_shape", *self.keys}
        for key in layer:
            if key not in known:
                hint = did_you_mean(key, known - {"type", "output_shape"})
                raise SpecError(
                    f"{layer['name']}: unknown key '{key}' for a {self.type} layer{hint}; "
                    f"it takes {', '.join(self.keys) or 'no keys'}"
                )
        for key in self.keys:
            if key not in layer:
                raise SpecError(f"{layer['name']}: a {self.type} layer needs '{key}'")
        if self.derive is not None:
            self.derive(layer, num_classes)
        for key, rule in self.keys.items():
            rule.check(layer, key)


def _pool(name: str, example: Mapping[str, Any], example_input: Shape) -> LayerDef:
    """Pooling over size x size windows, no padding; the stride is the size unless given."""
    return LayerDef(
        name,
        "pool",
        _pool_shape,
        example,
        example_input,
        keys={"size": POSITIVE_INT, "stride": POSITIVE_INT},
        defaults={"size": 2, "stride": None},
        derive=_stride_from_size,
        has_feature_maps=True,
    )


def _activation(name: str, keys: Mapping[str, Key] | None = None, **defaults: Any) -> LayerDef:
    """An elementwise layer: output shape = input shape, no parameters, named after its type."""
    return LayerDef(name, name, _same, dict(defaults), (2, 3, 3), keys=keys or {}, defaults=defaults)


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
        keys={
            "filters": POSITIVE_INT,
            "kernel_size": POSITIVE_INT,
            "stride": POSITIVE_INT,
            "padding": PADDING,
            "bias": BOOL,
            "init": INIT,
        },
        defaults={"stride": 1, "padding": "valid", "bias": True, "init": "he_uniform"},
        params=_conv_params,
        has_feature_maps=True,
        convolutional=True,
    ),
    _pool("maxpool2d", {"size": 3, "stride": 2}, (2, 5, 5)),  # the maximum of each window
    _pool("avgpool2d", {"size": 2}, (2, 4, 4)),  # the mean of each window
    LayerDef("globalavgpool2d", "gap", _gap_shape, {}, (3, 3, 3)),  # (C, H, W) -> (C,): the mean of each map
    LayerDef("flatten", "flatten", _flatten_shape, {}, (2, 3, 3)),  # (C, H, W) -> (C*H*W,) in C order
    # inverted dropout while training; the identity at inference
    LayerDef(
        "dropout",
        "dropout",
        _same,
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
        params=_per_channel_affine,
        mixes_batch=True,  # statistics over the batch
    ),
    # per example, over the feature axis of (F,) or the channel axis at each position of (C, H, W)
    LayerDef(
        "layernorm",
        "ln",
        _flat_or_maps,
        {"eps": 1e-3},
        (3, 2, 2),
        keys={"eps": POSITIVE},
        defaults={"eps": 1e-5},
        params=_per_channel_affine,
    ),
    _activation("relu"),
    _activation("leakyrelu", {"negative_slope": NUMBER}, negative_slope=0.01),
    _activation("sigmoid"),
    _activation("tanh"),
    _activation("softmax"),  # over the channel / feature axis
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
)
LAYERS: dict[str, LayerDef] = {d.type: d for d in _DEFS}


def layer_def(type_name: Any) -> LayerDef:
    """The registry entry for ``type_name`` (any case); :class:`SpecError` with a suggestion if unknown."""
    kind = type_name.lower() if isinstance(type_name, str) else ""
    if kind not in LAYERS:
        hint = did_you_mean(kind, LAYERS) if kind else ""
        raise SpecError(f"unknown layer type '{type_name}'{hint}: expected one of {', '.join(LAYERS)}")
    return LAYERS[kind]


def walk(layers: list[LayerSpec]) -> Iterator[LayerSpec]:
    """Every layer of a resolved list, depth first: a block, then its children in key order."""
    for layer in layers:
        yield layer
        for key in LAYERS[layer["type"]].children:
            yield from walk(layer[key])


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

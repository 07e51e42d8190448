"""Architectures as plain data.

A spec is a dict, serialisable to YAML/JSON::

    {"name": "cnn-small", "input_shape": [1, 28, 28], "num_classes": 10,
     "layers": [{"type": "conv2d", "filters": 16, "kernel_size": 5}, {"type": "relu"}, ...]}

Layer types and their keys (defaults in :data:`DEFAULTS`):

- ``dense`` (units; ``"num_classes"`` means the number of classes), ``conv2d``
  (filters, kernel_size, stride, padding ``valid``/``same``/int), ``maxpool2d``
  / ``avgpool2d`` (size, stride), ``globalavgpool2d``, ``flatten``,
  ``dropout`` (rate), ``batchnorm`` (momentum, eps; 1-d or 2-d from the input),
  ``relu``, ``leakyrelu`` (negative_slope), ``sigmoid``, ``tanh``, ``softmax``,
- ``residual`` (``layers``: the main branch; ``shortcut``: optional projection
  layers; the two outputs are added).

Every default that differs between frameworks is written into the resolved
spec (initialisers, bias, padding, BatchNorm momentum and epsilon), so the
engines never fall back on their own defaults.  BatchNorm momentum follows
PyTorch's convention: ``running = (1 - momentum) * running + momentum * batch``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from ..errors import ImgbenchError

PARAM_LAYERS = {"dense", "conv2d", "batchnorm"}
ACTIVATIONS = {"relu", "leakyrelu", "sigmoid", "tanh", "softmax"}
DEFAULTS: dict[str, dict] = {
    "dense": {"bias": True, "init": "he_uniform"},
    "conv2d": {"stride": 1, "padding": "valid", "bias": True, "init": "he_uniform"},
    "maxpool2d": {"size": 2, "stride": None},
    "avgpool2d": {"size": 2, "stride": None},
    "globalavgpool2d": {},
    "flatten": {},
    "dropout": {"rate": 0.5},
    "batchnorm": {"momentum": 0.1, "eps": 1e-5},
    "relu": {},
    "leakyrelu": {"negative_slope": 0.01},
    "sigmoid": {},
    "tanh": {},
    "softmax": {},
    "residual": {"shortcut": []},
}
INITS = {"he_uniform", "he_normal", "glorot_uniform", "glorot_normal"}
SHORT = {
    "conv2d": "conv",
    "maxpool2d": "pool",
    "avgpool2d": "pool",
    "globalavgpool2d": "gap",
    "batchnorm": "bn",
    "dense": "dense",
    "dropout": "dropout",
    "flatten": "flatten",
    "residual": "res",
}


class SpecError(ImgbenchError):
    """A model spec is malformed or does not fit its input shape."""


def conv_out(size: int, k: int, stride: int, pad: int) -> int:
    """Output length of a convolution or pooling along one axis."""
    return (size + 2 * pad - k) // stride + 1


def same_padding(k: int, stride: int) -> int:
    """Symmetric padding that keeps the size for stride 1 (odd kernels)."""
    if k % 2 == 0:
        raise SpecError(f"padding 'same' needs an odd kernel size, got {k}")
    return (k - 1) // 2


def padding_amount(layer: dict) -> int:
    """The integer padding of a resolved conv2d layer."""
    p = layer["padding"]
    if p == "valid":
        return 0
    if p == "same":
        return same_padding(layer["kernel_size"], layer["stride"])
    return int(p)


def _resolve_layers(
    layers: list, shape: tuple, num_classes: int, counter: dict, prefix: str = ""
) -> tuple[list, tuple]:
    out = []
    for raw in layers:
        if not isinstance(raw, dict) or "type" not in raw:
            raise SpecError(f"each layer must be a dict with a 'type', found {raw!r}")
        kind = raw["type"].lower()
        if kind not in DEFAULTS:
            raise SpecError(f"unknown layer type '{raw['type']}': expected one of {', '.join(DEFAULTS)}")
        layer = {"type": kind, **copy.deepcopy(DEFAULTS[kind]), **{k: v for k, v in raw.items() if k != "type"}}
        if "name" not in layer:
            short = SHORT.get(kind, kind)
            counter[short] = counter.get(short, 0) + 1
            layer["name"] = f"{prefix}{short}{counter[short]}"
        if kind in ("dense", "conv2d") and layer["init"] not in INITS:
            raise SpecError(f"{layer['name']}: unknown init '{layer['init']}', expected one of {sorted(INITS)}")
        if kind == "dense":
            if layer.get("units") == "num_classes":
                layer["units"] = num_classes
            if len(shape) != 1:
                raise SpecError(f"{layer['name']}: dense needs a flat input, got shape {shape}; add a flatten layer")
            shape = (int(layer["units"]),)
        elif kind == "conv2d":
            if len(shape) != 3:
                raise SpecError(f"{layer['name']}: conv2d needs a (C, H, W) input, got {shape}")
            k, s, p = int(layer["kernel_size"]), int(layer["stride"]), padding_amount(layer)
            h, w = conv_out(shape[1], k, s, p), conv_out(shape[2], k, s, p)
            if h < 1 or w < 1:
                raise SpecError(f"{layer['name']}: a {k}x{k} kernel does not fit a {shape[1]}x{shape[2]} input")
            shape = (int(layer["filters"]), h, w)
        elif kind in ("maxpool2d", "avgpool2d"):
            if layer["stride"] is None:
                layer["stride"] = layer["size"]
            k, s = int(layer["size"]), int(layer["stride"])
            if len(shape) != 3 or shape[1] < k or shape[2] < k:
                raise SpecError(f"{layer['name']}: a {k}x{k} pool does not fit input {shape}")
            shape = (shape[0], conv_out(shape[1], k, s, 0), conv_out(shape[2], k, s, 0))
        elif kind == "globalavgpool2d":
            shape = (shape[0],)
        elif kind == "flatten":
            n = 1
            for d in shape:
                n *= d
            shape = (n,)
        elif kind == "residual":
            inner, main_shape = _resolve_layers(layer["layers"], shape, num_classes, {}, layer["name"] + ".")
            short, short_shape = _resolve_layers(layer["shortcut"], shape, num_classes, {}, layer["name"] + ".sc.")
            if main_shape != short_shape:
                raise SpecError(f"{layer['name']}: main branch gives {main_shape} but the shortcut gives {short_shape}")
            layer["layers"], layer["shortcut"] = inner, short
            shape = main_shape
        layer["output_shape"] = list(shape)
        out.append(layer)
    return out, shape


def resolve(spec: dict) -> dict:
    """A complete copy of ``spec``: defaults filled, layers named, shapes checked.

    Raises :class:`SpecError` when a layer does not fit its input or the last
    layer does not produce ``num_classes`` logits.
    """
    for key in ("input_shape", "num_classes", "layers"):
        if key not in spec:
            raise SpecError(f"model spec '{spec.get('name', '?')}' is missing '{key}'")
    shape = tuple(int(d) for d in spec["input_shape"])
    layers, out = _resolve_layers(spec["layers"], shape, int(spec["num_classes"]), {})
    if out != (int(spec["num_classes"]),):
        raise SpecError(
            f"model spec '{spec.get('name', '?')}' ends with shape {out}; expected ({spec['num_classes']},) logits"
        )
    return {
        "name": spec.get("name", "custom"),
        "input_shape": list(shape),
        "num_classes": int(spec["num_classes"]),
        "layers": layers,
    }


def _layer_params(layer: dict, in_shape: tuple) -> int:
    kind = layer["type"]
    if kind == "dense":
        return in_shape[0] * layer["units"] + (layer["units"] if layer["bias"] else 0)
    if kind == "conv2d":
        k = layer["kernel_size"]
        return layer["filters"] * in_shape[0] * k * k + (layer["filters"] if layer["bias"] else 0)
    if kind == "batchnorm":
        return 2 * in_shape[0]  # gamma and beta; running statistics are buffers, not parameters
    if kind == "residual":
        return _count(layer["layers"], in_shape) + _count(layer["shortcut"], in_shape)
    return 0


def _count(layers: list, shape: tuple) -> int:
    total = 0
    for layer in layers:
        total += _layer_params(layer, shape)
        shape = tuple(layer["output_shape"])
    return total


def param_count(spec: dict) -> int:
    """Number of trainable parameters of a spec (resolved or not)."""
    spec = spec if _is_resolved(spec) else resolve(spec)
    return _count(spec["layers"], tuple(spec["input_shape"]))


def layer_table(spec: dict) -> list[dict]:
    """One row per top-level layer: name, type, output shape, parameters."""
    spec = spec if _is_resolved(spec) else resolve(spec)
    rows, shape = [], tuple(spec["input_shape"])
    for layer in spec["layers"]:
        rows.append(
            {
                "name": layer["name"],
                "type": layer["type"],
                "output_shape": layer["output_shape"],
                "params": _layer_params(layer, shape),
            }
        )
        shape = tuple(layer["output_shape"])
    return rows


def layer_types(spec: dict) -> set[str]:
    """Every layer type in the spec, nested residual branches included."""

    def walk(layers):
        for layer in layers:
            yield layer["type"]
            for key in ("layers", "shortcut"):
                if isinstance(layer.get(key), list):
                    yield from walk(layer[key])

    return set(walk(spec["layers"]))


def _is_resolved(spec: dict) -> bool:
    return all("output_shape" in layer for layer in spec.get("layers", []))


def load_spec_file(path: str | Path) -> dict:
    """Read a spec from a YAML or JSON file (a mapping with input_shape, num_classes and layers)."""
    from ..fileio import read_yaml

    return read_yaml(path, "model spec (input_shape, num_classes, layers)", SpecError)


def to_json(spec: dict) -> str:
    """Canonical JSON text of a spec (stored beside saved weights)."""
    return json.dumps(spec, indent=2, sort_keys=True)

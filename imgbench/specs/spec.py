"""Architectures as plain data.

A spec is a dict, serialisable to YAML/JSON::

    {"name": "cnn-small", "input_shape": [1, 28, 28], "num_classes": 10,
     "layers": [{"type": "conv2d", "filters": 16, "kernel_size": 5}, {"type": "relu"}, ...]}

The layer types, their keys and defaults are those of the registry in
:mod:`.layers`; this module resolves, counts and tabulates specs from it.

Every default that differs between frameworks is written into the resolved
spec (initialisers, bias, padding, BatchNorm momentum and epsilon), so the
engines never fall back on their own defaults.  BatchNorm momentum follows
PyTorch's convention: ``running = (1 - momentum) * running + momentum * batch``.
"""

from __future__ import annotations

import copy
import json
import numbers
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import did_you_mean
from .keys import SpecError
from .layerdef import LayerSpec, Shape
from .layers import LAYERS, child_lists, layer_def, walk

Spec = dict[str, Any]


def _resolve_layers(
    layers: Any, shape: Shape, num_classes: int, counter: dict[str, int], prefix: str = ""
) -> tuple[list[LayerSpec], Shape]:
    if not isinstance(layers, list):
        raise SpecError(f"layers must be a list of layers, found {layers!r}")
    out = []
    for raw in layers:
        if not isinstance(raw, dict) or "type" not in raw:
            raise SpecError(f"each layer must be a dict with a 'type', found {raw!r}")
        ldef = layer_def(raw["type"])
        # Copies all the way down: nested layer lists are resolved in place below.
        layer = {"type": ldef.type, **copy.deepcopy({**ldef.defaults, **{k: v for k, v in raw.items() if k != "type"}})}
        if "name" not in layer:
            counter[ldef.short] = counter.get(ldef.short, 0) + 1
            layer["name"] = f"{prefix}{ldef.short}{counter[ldef.short]}"
        ldef.check(layer, num_classes)
        for branch, child_prefix in child_lists(layer):
            branch[:] = _resolve_layers(branch, shape, num_classes, {}, child_prefix)[0]
        shape = ldef.output_shape(layer, shape)
        layer["output_shape"] = list(shape)
        out.append(layer)
    return out, shape


SPEC_KEYS = ("name", "input_shape", "num_classes", "layers")  # every key of a spec, resolved or not


def _positive_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) >= 1  # NumPy integers too


def spec_header(spec: Any) -> tuple[str, Shape, int]:
    """``(name, input_shape, num_classes)`` of a spec, checked: a mapping of known keys with every required one.

    ``input_shape`` is 1 to 3 positive integers (a per-example shape: ``(F,)``, ``(T, D)`` or ``(C, H, W)``),
    ``num_classes`` an integer >= 2.
    """
    if not isinstance(spec, Mapping):
        raise SpecError(f"a model spec must be a mapping of {', '.join(SPEC_KEYS)}, got {spec!r}")
    name = spec.get("name", "custom")
    if not isinstance(name, str) or not name:
        raise SpecError(f"a model spec's name must be a non-empty string, got {name!r}")
    for key in spec:
        if key not in SPEC_KEYS:
            hint = did_you_mean(key, SPEC_KEYS) if isinstance(key, str) else ""
            raise SpecError(f"model spec '{name}': unknown key {key!r}{hint}; a spec takes {', '.join(SPEC_KEYS)}")
    for key in SPEC_KEYS[1:]:
        if key not in spec:
            raise SpecError(f"model spec '{name}' is missing '{key}'")
    shape, num_classes = spec["input_shape"], spec["num_classes"]
    if not isinstance(shape, (list, tuple)) or len(shape) not in (1, 2, 3) or not all(map(_positive_int, shape)):
        raise SpecError(
            f"model spec '{name}': input_shape must be a list of 1 to 3 positive integers "
            f"((features,), (tokens, width) or (channels, height, width)), got {shape!r}"
        )
    if not _positive_int(num_classes) or num_classes < 2:
        raise SpecError(f"model spec '{name}': num_classes must be an integer >= 2, got {num_classes!r}")
    return name, tuple(int(d) for d in shape), int(num_classes)


def resolve(spec: Spec) -> Spec:
    """A complete copy of ``spec``: defaults filled, layers named, keys and shapes checked.

    Raises :class:`SpecError` when the spec has an unknown, missing or bad top-level key
    (see :func:`spec_header`), a layer has an unknown or bad key or does not fit its input,
    or the last layer does not produce ``num_classes`` logits.
    """
    name, shape, num_classes = spec_header(spec)
    layers, out = _resolve_layers(spec["layers"], shape, num_classes, {})
    if out != (num_classes,):
        raise SpecError(f"model spec '{name}' ends with shape {out}; expected ({num_classes},) logits")
    return {"name": name, "input_shape": list(shape), "num_classes": num_classes, "layers": layers}


def output_shape(layers: list[LayerSpec], input_shape: Sequence[int], num_classes: int) -> Shape:
    """The per-example shape that ``layers`` give for ``input_shape``, checked as :func:`resolve` checks."""
    return _resolve_layers(layers, tuple(int(d) for d in input_shape), num_classes, {})[1]


def _layer_params(layer: LayerSpec, in_shape: Shape) -> int:
    """Trainable parameters of a resolved layer, its children included."""
    ldef = LAYERS[layer["type"]]
    own = ldef.params(layer, in_shape) if ldef.params is not None else 0
    return own + sum(_count(branch, in_shape) for branch, _ in child_lists(layer))


def _count(layers: list[LayerSpec], shape: Shape) -> int:
    return sum(_layer_params(layer, in_shape) for layer, in_shape in _with_input_shapes(layers, shape))


def _with_input_shapes(layers: list[LayerSpec], shape: Shape) -> Iterator[tuple[LayerSpec, Shape]]:
    """Each resolved layer with the shape it receives."""
    for layer in layers:
        yield layer, shape
        shape = tuple(layer["output_shape"])


def _resolved(spec: Spec) -> Spec:
    return spec if all("output_shape" in layer for layer in spec.get("layers", [])) else resolve(spec)


def param_count(spec: Spec) -> int:
    """Number of trainable parameters of a spec (resolved or not)."""
    spec = _resolved(spec)
    return _count(spec["layers"], tuple(spec["input_shape"]))


def layer_table(spec: Spec) -> list[dict[str, Any]]:
    """One row per top-level layer: name, type, output shape, parameters."""
    spec = _resolved(spec)
    return [
        {
            "name": layer["name"],
            "type": layer["type"],
            "output_shape": layer["output_shape"],
            "params": _layer_params(layer, shape),
        }
        for layer, shape in _with_input_shapes(spec["layers"], tuple(spec["input_shape"]))
    ]


def layer_types(spec: Spec) -> set[str]:
    """Every layer type in a resolved spec, nested blocks included."""
    return {layer["type"] for layer in walk(spec["layers"])}


def load_spec_file(path: str | Path) -> Spec:
    """Read a spec from a YAML or JSON file (a mapping with input_shape, num_classes and layers)."""
    from ..fileio import read_yaml

    spec: Spec = read_yaml(path, "model spec (input_shape, num_classes, layers)", SpecError)
    return spec


def to_json(spec: Spec) -> str:
    """Canonical JSON text of a spec (stored beside saved weights)."""
    return json.dumps(spec, indent=2, sort_keys=True)

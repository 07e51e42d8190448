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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

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


def resolve(spec: Spec) -> Spec:
    """A complete copy of ``spec``: defaults filled, layers named, keys and shapes checked.

    Raises :class:`SpecError` when a layer has an unknown or bad key, does not
    fit its input, or the last layer does not produce ``num_classes`` logits.
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

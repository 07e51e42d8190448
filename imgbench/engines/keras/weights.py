"""Weights between imgbench's names and layouts (the NumPy and PyTorch engines') and a Keras model's.

:data:`WEIGHTS` (layer type -> weight conversion) is the only place here that names layer types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ...errors import ImgbenchError
from ...specs import LAYERS, walk
from .layout import (
    attention_from_keras,
    attention_to_keras,
    conv_kernel_from_keras,
    conv_kernel_to_keras,
    dense_kernel_from_keras,
    dense_kernel_to_keras,
    depthwise_kernel_from_keras,
    depthwise_kernel_to_keras,
)
from .model import keras, keras_name


class _Weights(NamedTuple):
    """How one layer type's weights map between imgbench's names and layouts and Keras's weight list.

    ``to_keras(spec, state) -> list`` and ``from_keras(spec, weights) -> dict``, for the layer ``spec``.
    """

    to_keras: Callable[[dict, dict], list]
    from_keras: Callable[[dict, list], dict]


def _kernel_bias(to_k: Callable[[np.ndarray], np.ndarray], from_k: Callable[[np.ndarray], np.ndarray]) -> _Weights:
    """A kernel (converted layout) and an optional bias."""

    def to_keras(spec: dict, state: dict) -> list:
        n = spec["name"]
        return [to_k(state[f"{n}.weight"])] + ([state[f"{n}.bias"]] if spec["bias"] else [])

    def from_keras(spec: dict, w: list) -> dict:
        n = spec["name"]
        return {f"{n}.weight": from_k(w[0]), **({f"{n}.bias": w[1]} if spec["bias"] else {})}

    return _Weights(to_keras, from_keras)


def _named(*keys: str) -> _Weights:
    """Arrays stored as they are, Keras's weight list in the order of ``keys``."""
    return _Weights(
        lambda spec, state: [state[f"{spec['name']}.{k}"] for k in keys],
        lambda spec, w: {f"{spec['name']}.{k}": v for k, v in zip(keys, w, strict=True)},
    )


def _parts(*parts: tuple[str, _Weights, int]) -> _Weights:
    """A Keras layer made of sublayers: part ``p``'s arrays under ``NAME.p``, its ``count`` Keras weights in turn."""

    def sub(spec: dict, part: str) -> dict:
        return {**spec, "name": f"{spec['name']}.{part}", "bias": True}

    def to_keras(spec: dict, state: dict) -> list:
        return [a for part, conversion, _ in parts for a in conversion.to_keras(sub(spec, part), state)]

    def from_keras(spec: dict, w: list) -> dict:
        out, start = {}, 0
        for part, conversion, count in parts:
            out.update(conversion.from_keras(sub(spec, part), w[start : start + count]))
            start += count
        return out

    return _Weights(to_keras, from_keras)


_DENSE = _kernel_bias(dense_kernel_to_keras, dense_kernel_from_keras)
_NORM = _named("weight", "bias")
_ATTENTION_KEYS = ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")


def _attention_to_keras(spec: dict, state: dict) -> list:
    in_weight, in_bias, out_weight, out_bias = (state[f"{spec['name']}.{k}"] for k in _ATTENTION_KEYS)
    return attention_to_keras(in_weight, in_bias, out_weight, out_bias, spec["heads"])


# PyTorch's four attention arrays <-> Keras MultiHeadAttention's eight weights (see .layout)
_ATTENTION = _Weights(
    _attention_to_keras,
    lambda spec, w: {f"{spec['name']}.{k}": v for k, v in zip(_ATTENTION_KEYS, attention_from_keras(w), strict=True)},
)

# Layer type -> weight conversion, for every type with parameters of its own.
WEIGHTS: dict[str, _Weights] = {
    "dense": _DENSE,
    "conv2d": _kernel_bias(conv_kernel_to_keras, conv_kernel_from_keras),
    "depthwiseconv2d": _kernel_bias(depthwise_kernel_to_keras, depthwise_kernel_from_keras),
    "batchnorm": _named("weight", "bias", "running_mean", "running_var"),
    "layernorm": _NORM,
    "patchembed": _kernel_bias(conv_kernel_to_keras, conv_kernel_from_keras),
    "classtoken": _named("token"),
    "posembed": _named("embedding"),
    "mha": _ATTENTION,
    "transformer": _parts(
        ("norm1", _NORM, 2),
        ("self_attn", _ATTENTION, 8),
        ("norm2", _NORM, 2),
        ("linear1", _DENSE, 2),
        ("linear2", _DENSE, 2),
    ),
}


def param_layers(spec: dict):
    """``(layer spec, weight conversion)`` of every layer with parameters, nested blocks included."""
    for layer_spec in walk(spec["layers"]):
        if LAYERS[layer_spec["type"]].has_params:
            conversion = WEIGHTS.get(layer_spec["type"])
            if conversion is None:
                raise ImgbenchError(f"the keras engine cannot convert weights of layer type '{layer_spec['type']}'")
            yield layer_spec, conversion


def set_numpy_state(model: keras.Model, spec: dict, state: dict) -> None:
    """Copy weights named as in the NumPy/PyTorch engines into the Keras model."""
    for layer_spec, conversion in param_layers(spec):
        weights = conversion.to_keras(layer_spec, state)
        model.get_layer(keras_name(layer_spec["name"])).set_weights([np.asarray(a, dtype=np.float32) for a in weights])


def get_numpy_state(model: keras.Model, spec: dict) -> dict:
    """The Keras weights under the NumPy/PyTorch engines' names and layouts."""
    out = {}
    for layer_spec, conversion in param_layers(spec):
        weights = model.get_layer(keras_name(layer_spec["name"])).get_weights()
        out.update(conversion.from_keras(layer_spec, weights))
    return out

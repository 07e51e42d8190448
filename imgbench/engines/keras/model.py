"""A Keras 3 model built from a resolved spec, with every framework default fixed by the spec.

:data:`BUILDERS` (layer type -> graph builder) and :data:`WEIGHTS` (layer type
-> weight conversion) are the only places here that name layer types.

Differences from Keras's own defaults that the spec overrides here:
- initialisers: He/Glorot *normal* are untruncated (Keras's HeNormal and
  GlorotNormal are truncated), biases start at zero;
- BatchNorm: Keras's ``momentum`` is PyTorch's ``1 - momentum`` (0.9 for the
  spec's 0.1) and ``epsilon`` is the spec's (1e-5, not Keras's 1e-3; LayerNorm too);
- padding: explicit ``ZeroPadding2D`` then a ``valid`` convolution, because
  TensorFlow's ``same`` pads asymmetrically for stride 2;
- flatten: the NHWC feature map is permuted to channels-first before
  ``Flatten``, so dense weights see the same order as in PyTorch and NumPy.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up INFO lines are noise in a CLI

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ...errors import ImgbenchError  # noqa: E402
from ...specs import LAYERS, walk  # noqa: E402
from ...specs.layers import padding_amount  # noqa: E402
from .layout import (  # noqa: E402
    conv_kernel_from_keras,
    conv_kernel_to_keras,
    dense_kernel_from_keras,
    dense_kernel_to_keras,
)


def _init(name: str):
    return {
        "he_uniform": keras.initializers.VarianceScaling(2.0, "fan_in", "uniform"),
        "he_normal": keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal"),
        "glorot_uniform": keras.initializers.VarianceScaling(1.0, "fan_avg", "uniform"),
        "glorot_normal": keras.initializers.VarianceScaling(1.0, "fan_avg", "untruncated_normal"),
    }[name]


def keras_name(name: str) -> str:
    """Spec layer names use dots for nesting; Keras layer names may not."""
    return name.replace(".", "_")


Builder = Callable[[dict, Any, tuple, np.random.Generator], Any]


def _conv2d(spec: dict, x, shape: tuple, seed_gen):
    pad = padding_amount(spec)
    if pad:
        x = keras.layers.ZeroPadding2D(pad, name=f"{keras_name(spec['name'])}_pad")(x)
    return keras.layers.Conv2D(
        spec["filters"],
        spec["kernel_size"],
        strides=spec["stride"],
        padding="valid",
        use_bias=spec["bias"],
        kernel_initializer=_init(spec["init"]),
        bias_initializer="zeros",
        name=keras_name(spec["name"]),
    )(x)


def _flatten(spec: dict, x, shape: tuple, seed_gen):
    name = keras_name(spec["name"])
    if len(shape) == 3:  # NHWC -> NCHW first: the same element order as torch.flatten
        x = keras.layers.Permute((3, 1, 2), name=f"{name}_to_nchw")(x)
    return keras.layers.Flatten(name=name)(x)


def _exact_gelu(x):
    """GELU in its exact (erf) form, as torch's ``nn.GELU()`` and the NumPy engine compute it."""
    return keras.activations.gelu(x, approximate=False)


def _residual(spec: dict, x, shape: tuple, seed_gen):
    main = _apply(spec["layers"], x, shape, seed_gen)
    short = _apply(spec["shortcut"], x, shape, seed_gen) if spec["shortcut"] else x
    return keras.layers.Add(name=keras_name(spec["name"]))([main, short])


def _layer(make: Callable[[dict], Any]) -> Builder:
    """A builder for a type that is one Keras layer: ``make(spec)`` builds it, the graph calls it."""
    return lambda spec, x, shape, seed_gen: make(spec)(x)


def _activation(name: str) -> Builder:
    return _layer(lambda spec: keras.layers.Activation(name, name=keras_name(spec["name"])))


# Layer type -> build(spec, x, in_shape, seed_gen) -> y: the Keras engine's one builder table.
# ``shape`` is imgbench's (C, H, W) / (F,) input shape; ``x`` the NHWC symbolic tensor.
BUILDERS: dict[str, Builder] = {
    "dense": _layer(
        lambda spec: keras.layers.Dense(
            spec["units"],
            use_bias=spec["bias"],
            kernel_initializer=_init(spec["init"]),
            bias_initializer="zeros",
            name=keras_name(spec["name"]),
        )
    ),
    "conv2d": _conv2d,
    "maxpool2d": _layer(
        lambda spec: keras.layers.MaxPooling2D(
            spec["size"], spec["stride"], padding="valid", name=keras_name(spec["name"])
        )
    ),
    "avgpool2d": _layer(
        lambda spec: keras.layers.AveragePooling2D(
            spec["size"], spec["stride"], padding="valid", name=keras_name(spec["name"])
        )
    ),
    "globalavgpool2d": _layer(lambda spec: keras.layers.GlobalAveragePooling2D(name=keras_name(spec["name"]))),
    "flatten": _flatten,
    "dropout": lambda spec, x, shape, seed_gen: keras.layers.Dropout(
        spec["rate"], seed=int(seed_gen.integers(2**31)), name=keras_name(spec["name"])
    )(x),
    "batchnorm": _layer(
        lambda spec: keras.layers.BatchNormalization(
            axis=-1, momentum=1.0 - spec["momentum"], epsilon=spec["eps"], name=keras_name(spec["name"])
        )
    ),
    "relu": _activation("relu"),
    "leakyrelu": _layer(
        lambda spec: keras.layers.LeakyReLU(negative_slope=spec["negative_slope"], name=keras_name(spec["name"]))
    ),
    "sigmoid": _activation("sigmoid"),
    "tanh": _activation("tanh"),
    "softmax": _activation("softmax"),  # the last axis: channels in NHWC, as torch's dim=1 in NCHW
    "gelu": _layer(lambda spec: keras.layers.Activation(_exact_gelu, name=keras_name(spec["name"]))),
    "layernorm": _layer(  # the last axis: the channels at each pixel of NHWC, or the features
        lambda spec: keras.layers.LayerNormalization(axis=-1, epsilon=spec["eps"], name=keras_name(spec["name"]))
    ),
    "residual": _residual,
}


def _apply(layers: list[dict], x, shape: tuple, seed_gen):
    """Add the layers to the functional graph; ``shape`` is the imgbench (C, H, W) / (F,) shape."""
    for spec in layers:
        builder = BUILDERS.get(spec["type"])
        if builder is None:
            raise ImgbenchError(f"the keras engine has no builder for layer type '{spec['type']}'")
        x = builder(spec, x, shape, seed_gen)
        shape = tuple(spec["output_shape"])
    return x


def build_keras_model(spec: dict, seed: int = 0) -> keras.Model:
    """A functional Keras model taking NHWC input, for a resolved spec."""
    keras.utils.set_random_seed(seed)
    c, *hw = spec["input_shape"] if len(spec["input_shape"]) == 3 else (spec["input_shape"][0],)
    shape = (*hw, c) if hw else (c,)
    inputs = keras.Input(shape=shape, name="images")
    outputs = _apply(spec["layers"], inputs, tuple(spec["input_shape"]), np.random.default_rng(seed))
    return keras.Model(inputs, outputs, name=keras_name(spec.get("name", "model")))


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


# Layer type -> weight conversion, for every type with parameters of its own.
WEIGHTS: dict[str, _Weights] = {
    "dense": _kernel_bias(dense_kernel_to_keras, dense_kernel_from_keras),
    "conv2d": _kernel_bias(conv_kernel_to_keras, conv_kernel_from_keras),
    "batchnorm": _named("weight", "bias", "running_mean", "running_var"),
    "layernorm": _named("weight", "bias"),
}


def _param_layers(spec: dict):
    """``(layer spec, weight conversion)`` of every layer with parameters, nested blocks included."""
    for layer_spec in walk(spec["layers"]):
        if LAYERS[layer_spec["type"]].has_params:
            conversion = WEIGHTS.get(layer_spec["type"])
            if conversion is None:
                raise ImgbenchError(f"the keras engine cannot convert weights of layer type '{layer_spec['type']}'")
            yield layer_spec, conversion


def set_numpy_state(model: keras.Model, spec: dict, state: dict) -> None:
    """Copy weights named as in the NumPy/PyTorch engines into the Keras model."""
    for layer_spec, conversion in _param_layers(spec):
        weights = conversion.to_keras(layer_spec, state)
        model.get_layer(keras_name(layer_spec["name"])).set_weights([np.asarray(a, dtype=np.float32) for a in weights])


def get_numpy_state(model: keras.Model, spec: dict) -> dict:
    """The Keras weights under the NumPy/PyTorch engines' names and layouts."""
    out = {}
    for layer_spec, conversion in _param_layers(spec):
        weights = model.get_layer(keras_name(layer_spec["name"])).get_weights()
        out.update(conversion.from_keras(layer_spec, weights))
    return out

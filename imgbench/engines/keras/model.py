"""A Keras 3 model built from a resolved spec, with every framework default fixed by the spec.

Differences from Keras's own defaults that the spec overrides here:
- initialisers: He/Glorot *normal* are untruncated (Keras's HeNormal and
  GlorotNormal are truncated), biases start at zero;
- BatchNorm: Keras's ``momentum`` is PyTorch's ``1 - momentum`` (0.9 for the
  spec's 0.1) and ``epsilon`` is the spec's (1e-5, not Keras's 1e-3);
- padding: explicit ``ZeroPadding2D`` then a ``valid`` convolution, because
  TensorFlow's ``same`` pads asymmetrically for stride 2;
- flatten: the NHWC feature map is permuted to channels-first before
  ``Flatten``, so dense weights see the same order as in PyTorch and NumPy.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up INFO lines are noise in a CLI

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ...specs.spec import padding_amount  # noqa: E402
from .layout import (
    conv_kernel_from_keras,
    conv_kernel_to_keras,
    dense_kernel_from_keras,  # noqa: E402
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


def _apply(layers: list[dict], x, shape: tuple, seed_gen):
    """Add the layers to the functional graph; ``shape`` is the imgbench (C, H, W) / (F,) shape."""
    for spec in layers:
        kind, name = spec["type"], keras_name(spec["name"])
        if kind == "conv2d":
            pad = padding_amount(spec)
            if pad:
                x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
            x = keras.layers.Conv2D(
                spec["filters"],
                spec["kernel_size"],
                strides=spec["stride"],
                padding="valid",
                use_bias=spec["bias"],
                kernel_initializer=_init(spec["init"]),
                bias_initializer="zeros",
                name=name,
            )(x)
        elif kind == "dense":
            x = keras.layers.Dense(
                spec["units"],
                use_bias=spec["bias"],
                kernel_initializer=_init(spec["init"]),
                bias_initializer="zeros",
                name=name,
            )(x)
        elif kind == "maxpool2d":
            x = keras.layers.MaxPooling2D(spec["size"], spec["stride"], padding="valid", name=name)(x)
        elif kind == "avgpool2d":
            x = keras.layers.AveragePooling2D(spec["size"], spec["stride"], padding="valid", name=name)(x)
        elif kind == "globalavgpool2d":
            x = keras.layers.GlobalAveragePooling2D(name=name)(x)
        elif kind == "flatten":
            if len(shape) == 3:  # NHWC -> NCHW first: the same element order as torch.flatten
                x = keras.layers.Permute((3, 1, 2), name=f"{name}_to_nchw")(x)
            x = keras.layers.Flatten(name=name)(x)
        elif kind == "dropout":
            x = keras.layers.Dropout(spec["rate"], seed=int(seed_gen.integers(2**31)), name=name)(x)
        elif kind == "batchnorm":
            x = keras.layers.BatchNormalization(
                axis=-1, momentum=1.0 - spec["momentum"], epsilon=spec["eps"], name=name
            )(x)
        elif kind in ("relu", "sigmoid", "tanh", "softmax"):
            x = keras.layers.Activation(kind, name=name)(x)
        elif kind == "leakyrelu":
            x = keras.layers.LeakyReLU(negative_slope=spec["negative_slope"], name=name)(x)
        elif kind == "residual":
            main = _apply(spec["layers"], x, shape, seed_gen)
            short = _apply(spec["shortcut"], x, shape, seed_gen) if spec["shortcut"] else x
            x = keras.layers.Add(name=name)([main, short])
        else:
            raise ValueError(kind)
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


def _param_layers(spec_layers: list[dict]):
    for spec in spec_layers:
        if spec["type"] in ("dense", "conv2d", "batchnorm"):
            yield spec
        elif spec["type"] == "residual":
            yield from _param_layers(spec["layers"])
            yield from _param_layers(spec["shortcut"])


def set_numpy_state(model: keras.Model, spec: dict, state: dict) -> None:
    """Copy weights named as in the NumPy/PyTorch engines into the Keras model."""
    for layer_spec in _param_layers(spec["layers"]):
        n, layer = layer_spec["name"], model.get_layer(keras_name(layer_spec["name"]))
        if layer_spec["type"] == "conv2d":
            w = [conv_kernel_to_keras(state[f"{n}.weight"])] + ([state[f"{n}.bias"]] if layer_spec["bias"] else [])
        elif layer_spec["type"] == "dense":
            w = [dense_kernel_to_keras(state[f"{n}.weight"])] + ([state[f"{n}.bias"]] if layer_spec["bias"] else [])
        else:
            w = [state[f"{n}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
        layer.set_weights([np.asarray(a, dtype=np.float32) for a in w])


def get_numpy_state(model: keras.Model, spec: dict) -> dict:
    """The Keras weights under the NumPy/PyTorch engines' names and layouts."""
    out = {}
    for layer_spec in _param_layers(spec["layers"]):
        n, weights = layer_spec["name"], model.get_layer(keras_name(layer_spec["name"])).get_weights()
        if layer_spec["type"] == "conv2d":
            out[f"{n}.weight"] = conv_kernel_from_keras(weights[0])
        elif layer_spec["type"] == "dense":
            out[f"{n}.weight"] = dense_kernel_from_keras(weights[0])
        else:
            for k, v in zip(("weight", "bias", "running_mean", "running_var"), weights, strict=True):
                out[f"{n}.{k}"] = v
            continue
        if layer_spec["bias"]:
            out[f"{n}.bias"] = weights[1]
    return out

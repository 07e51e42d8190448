"""A Keras 3 model built from a resolved spec, with every framework default fixed by the spec.

:data:`BUILDERS` (layer type -> graph builder) is the only place here that names layer
types; :mod:`.weights` converts the weights.

Differences from Keras's own defaults that the spec overrides here:
- initialisers: He/Glorot *normal* are untruncated (Keras's HeNormal and
  GlorotNormal are truncated), biases start at zero;
- BatchNorm: Keras's ``momentum`` is PyTorch's ``1 - momentum`` (0.9 for the
  spec's 0.1) and ``epsilon`` is the spec's (1e-5, not Keras's 1e-3; LayerNorm too);
- initialisers see imgbench's fans: depthwise and attention kernels are drawn
  in imgbench's layout and reshaped; class tokens and position embeddings start as N(0, 0.02^2);
- padding: explicit ``ZeroPadding2D`` then a ``valid`` convolution, because
  TensorFlow's ``same`` pads asymmetrically for stride 2 (max pooling pads
  with -infinity instead, average pooling counts the zeros, as PyTorch);
- flatten: the NHWC feature map is permuted to channels-first before
  ``Flatten``, so dense weights see the same order as in PyTorch and NumPy;
- tokens are (N, T, D); a transformer block is one Keras layer with PyTorch's sublayers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up INFO lines are noise in a CLI

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ...errors import ImgbenchError  # noqa: E402
from ...specs.layerdef import padding_amount  # noqa: E402
from ...specs.tokens import TOKEN_INIT_STD, mlp_width  # noqa: E402


def _init(name: str):
    return {
        "he_uniform": keras.initializers.VarianceScaling(2.0, "fan_in", "uniform"),
        "he_normal": keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal"),
        "glorot_uniform": keras.initializers.VarianceScaling(1.0, "fan_avg", "uniform"),
        "glorot_normal": keras.initializers.VarianceScaling(1.0, "fan_avg", "untruncated_normal"),
    }[name]


class _DrawnAs(keras.initializers.Initializer):
    """Draws ``shape`` from ``init``, reshaped to the kernel's: Keras's own kernel shape would give other fans.

    A depthwise kernel (k, k, C, 1) is drawn as (k, k, 1, C), attention kernels (D, H, d), (H, d, D) as (D, D).
    """

    def __init__(self, init: str, shape: tuple[int, ...]):
        self.init, self.shape = init, tuple(shape)

    def __call__(self, shape, dtype=None):
        return keras.ops.reshape(_init(self.init)(self.shape, dtype=dtype), shape)

    def get_config(self):
        return {"init": self.init, "shape": list(self.shape)}


def keras_name(name: str) -> str:
    """Spec layer names use dots for nesting; Keras layer names may not."""
    return name.replace(".", "_")


Builder = Callable[[dict, Any, tuple, np.random.Generator], Any]


def _padded(spec: dict, x, value: float = 0.0):
    """``x`` padded on both spatial axes by the layer's padding, with ``value`` (zeros unless given)."""
    pad, name = padding_amount(spec), f"{keras_name(spec['name'])}_pad"
    if not pad:
        return x
    if value == 0.0:
        return keras.layers.ZeroPadding2D(pad, name=name)(x)
    widths = ((0, 0), (pad, pad), (pad, pad), (0, 0))
    return keras.layers.Lambda(lambda t: keras.ops.pad(t, widths, constant_values=value), name=name)(x)


def _window_options(spec: dict) -> dict:
    """What a convolution's or pooling's Keras layer takes from the spec besides its window (padded before)."""
    return {"strides": spec["stride"], "padding": "valid", "name": keras_name(spec["name"])}


def _conv2d(spec: dict, x, shape: tuple, seed_gen):
    init, bias = _init(spec["init"]), spec["bias"]
    return keras.layers.Conv2D(
        spec["filters"], spec["kernel_size"], use_bias=bias, kernel_initializer=init, **_window_options(spec)
    )(_padded(spec, x))


def _depthwise(spec: dict, x, shape: tuple, seed_gen):
    k, bias = spec["kernel_size"], spec["bias"]
    init = _DrawnAs(spec["init"], (k, k, 1, shape[0]))
    return keras.layers.DepthwiseConv2D(k, use_bias=bias, depthwise_initializer=init, **_window_options(spec))(
        _padded(spec, x)
    )


def _pool(make: Callable[..., Any], pad_value: float) -> Builder:
    return lambda spec, x, shape, seed_gen: make(spec["size"], **_window_options(spec))(_padded(spec, x, pad_value))


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


def _concat(spec: dict, x, shape: tuple, seed_gen):
    branches = [_apply(branch, x, shape, seed_gen) for branch in spec["branches"]]
    return keras.layers.Concatenate(axis=-1, name=keras_name(spec["name"]))(branches)  # channels last: NHWC


def _attention(spec: dict, dim: int, **name: str):
    """Keras's multi-head self-attention with the spec's heads and initialiser (projections with zero biases)."""
    init = _DrawnAs(spec["init"], (dim, dim))
    return keras.layers.MultiHeadAttention(spec["heads"], dim // spec["heads"], kernel_initializer=init, **name)


class _PatchEmbedding(keras.layers.Layer):
    """A Conv2D with kernel = stride = p whose (H/p, W/p) output grid, read row by row, gives (N, T, D) tokens."""

    def __init__(self, spec: dict, **kwargs):
        super().__init__(**kwargs)
        p = spec["patch_size"]
        self.proj = keras.layers.Conv2D(
            spec["dim"], p, strides=p, use_bias=spec["bias"], kernel_initializer=_init(spec["init"])
        )

    def call(self, x):
        y = self.proj(x)
        return keras.ops.reshape(y, (-1, y.shape[1] * y.shape[2], y.shape[3]))


class _ClassToken(keras.layers.Layer):
    """A learned ``token`` (D,) put before every example's tokens: (N, T, D) -> (N, T + 1, D)."""

    def build(self, input_shape):
        self.token = self.add_weight((input_shape[-1],), keras.initializers.RandomNormal(0.0, TOKEN_INIT_STD))

    def call(self, x):
        first = keras.ops.broadcast_to(self.token, (keras.ops.shape(x)[0], 1, x.shape[-1]))
        return keras.ops.concatenate([first, x], axis=1)


class _PositionEmbedding(keras.layers.Layer):
    """A learned (T, D) ``embedding`` added to every example's tokens."""

    def build(self, input_shape):
        self.embedding = self.add_weight(tuple(input_shape[1:]), keras.initializers.RandomNormal(0.0, TOKEN_INIT_STD))

    def call(self, x):
        return x + self.embedding


class _TransformerBlock(keras.layers.Layer):
    """``h = x + self_attn(norm1(x))``, ``y = h + linear2(GELU(linear1(norm2(h))))``; in WEIGHTS' order (.weights)."""

    def __init__(self, spec: dict, shape: tuple, **kwargs):
        super().__init__(**kwargs)
        dim, dense = shape[1], {"kernel_initializer": _init(spec["init"]), "bias_initializer": "zeros"}
        self.norm1 = keras.layers.LayerNormalization(epsilon=spec["eps"])
        self.self_attn = _attention(spec, dim)
        self.norm2 = keras.layers.LayerNormalization(epsilon=spec["eps"])
        self.linear1 = keras.layers.Dense(mlp_width(spec, shape), **dense)
        self.linear2 = keras.layers.Dense(dim, **dense)

    def call(self, x):
        z = self.norm1(x)
        h = x + self.self_attn(z, z)
        return h + self.linear2(_exact_gelu(self.linear1(self.norm2(h))))


# (N, T, D) -> (N, D): the first (class) token, or the mean of the tokens
_TOKEN_POOLS = {"class": lambda x: x[:, 0], "mean": lambda x: keras.ops.mean(x, axis=1)}


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
    "depthwiseconv2d": _depthwise,
    "maxpool2d": _pool(keras.layers.MaxPooling2D, float("-inf")),
    "avgpool2d": _pool(keras.layers.AveragePooling2D, 0.0),
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
    "relu6": _activation("relu6"),
    "leakyrelu": _layer(
        lambda spec: keras.layers.LeakyReLU(negative_slope=spec["negative_slope"], name=keras_name(spec["name"]))
    ),
    "sigmoid": _activation("sigmoid"),
    "tanh": _activation("tanh"),
    "silu": _activation("silu"),
    "softmax": _activation("softmax"),  # the last axis: channels in NHWC, as torch's dim=1 in NCHW
    "gelu": _layer(lambda spec: keras.layers.Activation(_exact_gelu, name=keras_name(spec["name"]))),
    "layernorm": _layer(  # the last axis: the channels at each pixel of NHWC, or the features
        lambda spec: keras.layers.LayerNormalization(axis=-1, epsilon=spec["eps"], name=keras_name(spec["name"]))
    ),
    "residual": _residual,
    "concat": _concat,
    "patchembed": _layer(lambda spec: _PatchEmbedding(spec, name=keras_name(spec["name"]))),
    "classtoken": _layer(lambda spec: _ClassToken(name=keras_name(spec["name"]))),
    "posembed": _layer(lambda spec: _PositionEmbedding(name=keras_name(spec["name"]))),
    "mha": lambda spec, x, shape, seed_gen: _attention(spec, shape[1], name=keras_name(spec["name"]))(x, x),
    "transformer": lambda spec, x, shape, seed_gen: _TransformerBlock(spec, shape, name=keras_name(spec["name"]))(x),
    "tokenpool": _layer(lambda spec: keras.layers.Lambda(_TOKEN_POOLS[spec["mode"]], name=keras_name(spec["name"]))),
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


# imgbench's precisions -> Keras dtype policies: "mixed" keeps the variables in float32 and computes in bf16.
DTYPE_POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16"}


def build_keras_model(spec: dict, seed: int = 0, precision: str = "fp32") -> keras.Model:
    """A functional Keras model taking NHWC input, for a resolved spec, computing in ``precision``."""
    keras.utils.set_random_seed(seed)
    shape = tuple(spec["input_shape"])
    # Every layer takes the policy in force when it is made; set it for this build only, so another model in
    # the process (a study's next run, a test) is not changed behind its back.
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(DTYPE_POLICIES[precision])
    try:
        inputs = keras.Input(shape=(*shape[1:], shape[0]) if len(shape) == 3 else shape, name="images")  # NHWC
        outputs = _apply(spec["layers"], inputs, tuple(spec["input_shape"]), np.random.default_rng(seed))
        if precision != "fp32":
            # float32 logits, as Keras's mixed-precision guide advises: the softmax cross-entropy and its
            # gradient in bf16 (8 bits of mantissa) would round the small probabilities away.
            outputs = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(outputs)
    finally:
        keras.config.set_dtype_policy(previous)
    return keras.Model(inputs, outputs, name=keras_name(spec.get("name", "model")))

"""The model zoo: named architectures, built for a given input shape.

Each entry is a function ``(input_shape, num_classes) -> spec``.  The
parameter-matched pairs (``ann-128k`` / ``cnn-125k``, ``ann-256k`` /
``cnn-250k``) solve for the width of their hidden dense layer so the total
lands within 3% of the named count on whatever input they are given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from .keys import SpecError
from .layerdef import LayerSpec
from .spec import Spec, load_spec_file, param_count, resolve, spec_header

ZooModel = Callable[[list[int], int], list[LayerSpec]]


def _dense(units: int, init: str = "he_uniform") -> LayerSpec:
    return {"type": "dense", "units": units, "init": init}


def _logits() -> LayerSpec:
    # Glorot for the classifier: its output feeds softmax, not a ReLU.
    return {"type": "dense", "units": "num_classes", "init": "glorot_uniform"}


def _conv(filters: int, k: int, **kw: Any) -> LayerSpec:
    return {"type": "conv2d", "filters": filters, "kernel_size": k, **kw}


RELU: LayerSpec = {"type": "relu"}
FLAT: LayerSpec = {"type": "flatten"}


def mlp(input_shape: list[int], num_classes: int) -> list[LayerSpec]:
    """784-256-128-10 style fully-connected network (hidden widths fixed, input adapts)."""
    return [FLAT, _dense(256), RELU, _dense(128), RELU, _logits()]


def mlp_small(input_shape: list[int], num_classes: int) -> list[LayerSpec]:
    """One hidden layer of 128 units."""
    return [FLAT, _dense(128), RELU, _logits()]


def _stage(filters: int, k: int, act: LayerSpec = RELU, pool: str = "maxpool2d", **conv: Any) -> list[LayerSpec]:
    """Convolution, activation, 2x2 pooling: the repeating unit of the small CNNs."""
    return [_conv(filters, k, **conv), act, {"type": pool, "size": 2}]


def cnn_small(input_shape: list[int], num_classes: int) -> list[LayerSpec]:
    """conv 16@5x5, max-pool 2, conv 32@5x5, max-pool 2, dense 64, dense 10 (46,730 parameters on MNIST)."""
    return [*_stage(16, 5), *_stage(32, 5), FLAT, _dense(64), RELU, _logits()]


def cnn_tiny(input_shape: list[int], num_classes: int) -> list[LayerSpec]:
    """cnn-small's shape with 3x3 'same' convolutions, so it fits images as small as 8x8 (digits)."""
    return [*_stage(16, 3, padding="same"), *_stage(32, 3, padding="same"), FLAT, _dense(64), RELU, _logits()]


def lenet5(input_shape: list[int], num_classes: int) -> list[LayerSpec]:
    """LeNet-5 (LeCun et al. 1998) with tanh and average pooling; 28x28 inputs are padded to 32x32."""
    pad = 2 if input_shape[1] == 28 else 0
    tanh = {"type": "tanh"}
    return [
        *_stage(6, 5, tanh, "avgpool2d", padding=pad, init="glorot_uniform"),
        *_stage(16, 5, tanh, "avgpool2d", init="glorot_uniform"),
        FLAT,
        _dense(120, "glorot_uniform"),
        tanh,
        _dense(84, "glorot_uniform"),
        tanh,
        _logits(),
    ]


def keras_convnet(input_shape: list[int], num_classes: int) -> list[LayerSpec]:
    """The Keras 'simple MNIST convnet' example: conv 32, pool, conv 64, pool, dropout 0.5, dense."""
    return [*_stage(32, 3), *_stage(64, 3), FLAT, {"type": "dropout", "rate": 0.5}, _logits()]


def _ann(width: int) -> list[LayerSpec]:
    return [FLAT, _dense(width), RELU, _dense(width), RELU, _logits()]


def _cnn(width: int) -> list[LayerSpec]:
    return [*_stage(32, 3), *_stage(64, 3), FLAT, _dense(width), RELU, _logits()]


def _matched(family: Callable[[int], list[LayerSpec]], target: int, name: str) -> ZooModel:
    """Pick the hidden width whose parameter count is closest to ``target`` (within 3%)."""

    def build(input_shape: list[int], num_classes: int) -> list[LayerSpec]:
        best: tuple[int, int] | None = None
        for width in range(1, 2049):
            spec = {"input_shape": input_shape, "num_classes": num_classes, "layers": family(width)}
            n = param_count(spec)
            if best is None or abs(n - target) < abs(best[0] - target):
                best = (n, width)
            if n > target:
                break
        assert best is not None  # the loop ran at least once
        n, width = best
        if abs(n - target) > 0.03 * target:
            raise SpecError(
                f"{name}: no width gives {target} parameters (+-3%) on input {input_shape}; "
                f"closest is {n} at width {width}"
            )
        return family(width)

    build.__doc__ = (
        f"{'Fully-connected' if 'ann' in name else 'Convolutional'} network with about {target:,} parameters."
    )
    return build


def _vgg_block(filters: int) -> list[LayerSpec]:
    return [
        _conv(filters, 3, padding="same", bias=False),
        {"type": "batchnorm"},
        RELU,
        _conv(filters, 3, padding="same", bias=False),
        {"type": "batchnorm"},
        RELU,
        {"type": "maxpool2d", "size": 2},
    ]


def vgg_small(input_shape: list[int], num_classes: int) -> list[LayerSpec]:
    """VGG-style: three blocks of two 3x3 conv + BatchNorm + ReLU (32, 64, 128 filters), dropout, dense."""
    return [*_vgg_block(32), *_vgg_block(64), *_vgg_block(128), FLAT, {"type": "dropout", "rate": 0.3}, _logits()]


def _basic_block(filters: int, stride: int, in_filters: int) -> list[LayerSpec]:
    main = [
        _conv(filters, 3, stride=stride, padding="same" if stride == 1 else 1, bias=False),
        {"type": "batchnorm"},
        RELU,
        _conv(filters, 3, padding="same", bias=False),
        {"type": "batchnorm"},
    ]
    shortcut: list[LayerSpec] = []
    if stride != 1 or filters != in_filters:
        shortcut = [_conv(filters, 1, stride=stride, bias=False), {"type": "batchnorm"}]
    return [{"type": "residual", "layers": main, "shortcut": shortcut}, RELU]


def resnet_small(input_shape: list[int], num_classes: int) -> list[LayerSpec]:
    """ResNet-14 for 32x32 images: 3 stages (16, 32, 64 filters) of two basic blocks, global average pool."""
    layers = [_conv(16, 3, padding="same", bias=False), {"type": "batchnorm"}, RELU]
    in_f = 16
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        layers += _basic_block(filters, stride, in_f) + _basic_block(filters, 1, filters)
        in_f = filters
    return layers + [{"type": "globalavgpool2d"}, _logits()]


def _conv_bn(filters: int, k: int, act: LayerSpec = RELU, **conv: Any) -> list[LayerSpec]:
    """Convolution without bias (BatchNorm's shift replaces it), BatchNorm, activation."""
    return [_conv(filters, k, bias=False, **conv), {"type": "batchnorm"}, act]


RELU6: LayerSpec = {"type": "relu6"}


def _separable(filters: int, stride: int) -> list[LayerSpec]:
    """MobileNet's depthwise-separable block: a 3x3 depthwise conv filters each channel, a 1x1 conv mixes them."""
    depthwise = {"type": "depthwiseconv2d", "kernel_size": 3, "stride": stride, "padding": 1, "bias": False}
    return [depthwise, {"type": "batchnorm"}, RELU6, *_conv_bn(filters, 1, RELU6)]


def mobilenet_small(input_shape: list[int], num_classes: int) -> list[LayerSpec]:
    """MobileNet-style: 3x3 conv stem, five depthwise-separable blocks (64-256 filters, BatchNorm, ReLU6), GAP."""
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1)]
    layers = _conv_bn(32, 3, RELU6, padding="same")
    for filters, stride in blocks:
        layers += _separable(filters, stride)
    return layers + [{"type": "globalavgpool2d"}, _logits()]


def _inception(c1: int, c3: int, c5: int, pool: int) -> LayerSpec:
    """Inception module: 1x1, 1x1 -> 3x3, 1x1 -> two 3x3 (a 5x5's field) and 3x3 max-pool -> 1x1 branches."""
    return {
        "type": "concat",
        "branches": [
            _conv_bn(c1, 1),
            _conv_bn(c3 // 2, 1) + _conv_bn(c3, 3, padding="same"),
            _conv_bn(c5 // 2, 1) + _conv_bn(c5, 3, padding="same") + _conv_bn(c5, 3, padding="same"),
            [{"type": "maxpool2d", "size": 3, "stride": 1, "padding": 1}, *_conv_bn(pool, 1)],
        ],
    }


def inception_small(input_shape: list[int], num_classes: int) -> list[LayerSpec]:
    """Inception-style (GoogLeNet with BatchNorm): conv stem, three Inception modules (64, 96, 128 maps), GAP."""
    pool = {"type": "maxpool2d", "size": 2}
    return [
        *_conv_bn(32, 3, padding="same"),
        pool,
        _inception(16, 24, 12, 12),
        _inception(24, 40, 16, 16),
        pool,
        _inception(32, 56, 24, 16),
        {"type": "globalavgpool2d"},
        _logits(),
    ]


def vit_tiny(input_shape: list[int], num_classes: int) -> list[LayerSpec]:
    """ViT (Dosovitskiy et al. 2021), tiny: 4x4 patches, width 64, 6 pre-norm blocks of 4 heads, class token."""
    block = {"type": "transformer", "heads": 4, "mlp_ratio": 2}
    return [
        {"type": "patchembed", "patch_size": 4, "dim": 64},
        {"type": "classtoken"},
        {"type": "posembed"},
        *(dict(block) for _ in range(6)),
        {"type": "layernorm"},
        {"type": "tokenpool", "mode": "class"},
        _logits(),
    ]


ZOO: dict[str, ZooModel] = {
    "mlp": mlp,
    "mlp-small": mlp_small,
    "cnn-small": cnn_small,
    "cnn-tiny": cnn_tiny,
    "lenet5": lenet5,
    "keras-convnet": keras_convnet,
    "ann-128k": _matched(_ann, 128_000, "ann-128k"),
    "cnn-125k": _matched(_cnn, 125_000, "cnn-125k"),
    "ann-256k": _matched(_ann, 256_000, "ann-256k"),
    "cnn-250k": _matched(_cnn, 250_000, "cnn-250k"),
    "vgg-small": vgg_small,
    "resnet-small": resnet_small,
    "mobilenet-small": mobilenet_small,
    "inception-small": inception_small,
    "vit-tiny": vit_tiny,
}


def build_spec(model: str, input_shape: Sequence[int], num_classes: int) -> Spec:
    """Resolved spec for a zoo name or a path to a YAML/JSON spec file.

    A spec file may leave out ``name`` (then the file's name), ``input_shape`` and ``num_classes``
    (then the data's); what it gives must match the data.  Its errors start with the file's path.
    """
    shape = [int(d) for d in input_shape]
    if model in ZOO:
        return resolve(
            {"name": model, "input_shape": shape, "num_classes": num_classes, "layers": ZOO[model](shape, num_classes)}
        )
    if not (os.path.exists(model) or model.endswith((".yaml", ".yml", ".json"))):
        raise SpecError(f"unknown model '{model}': expected one of {', '.join(ZOO)} or a spec file path")
    given = load_spec_file(model)  # its errors name the file already
    stem = os.path.splitext(os.path.basename(model))[0]
    spec = {"name": stem, "input_shape": shape, "num_classes": num_classes, **given}
    try:
        _, file_shape, file_classes = spec_header(spec)
        if list(file_shape) != shape:
            raise SpecError(f"the spec expects input {list(file_shape)} but the data is {shape}")
        if file_classes != num_classes:
            raise SpecError(
                f"the spec has num_classes {file_classes} but the data has {num_classes} classes; "
                f"set num_classes to {num_classes} or leave it out"
            )
        return resolve(spec)
    except SpecError as exc:
        raise SpecError(f"{model}: {exc}") from None

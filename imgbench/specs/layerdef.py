"""What a registry entry is (:class:`LayerDef`), and the shape arithmetic that entries and engines share.

Shapes are per example: ``(C, H, W)`` for images and feature maps, ``(F,)``
for flat features and ``(T, D)`` for a sequence of T tokens of width D.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import did_you_mean
from .keys import Key, SpecError

Shape = tuple[int, ...]
LayerSpec = dict[str, Any]


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
    parallel: bool = False  # each children key holds branches (a list of layer lists), suffixed 1, 2, ...
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


# --- shapes and sizes ---------------------------------------------------------------------


def needs_rank(layer: LayerSpec, shape: Shape, ranks: tuple[int, ...], what: str) -> None:
    """:class:`SpecError` unless ``shape`` has one of ``ranks`` axes; ``what`` names the input expected."""
    if len(shape) not in ranks:
        raise SpecError(f"{layer['name']}: {layer['type']} needs {what}, got {shape}")


def same_shape(layer: LayerSpec, shape: Shape) -> Shape:
    """The output shape of a layer that keeps its input's shape."""
    return shape


def conv_out(size: int, k: int, stride: int, pad: int) -> int:
    """Output length of a convolution or pooling window along one axis: ``(size + 2 pad - k) // stride + 1``."""
    return (size + 2 * pad - k) // stride + 1


def padding_amount(layer: LayerSpec) -> int:
    """The integer padding of a resolved convolution or pooling layer (``same``: keeps the size at stride 1).

    The window is the layer's ``kernel_size`` (convolutions) or ``size`` (pooling).
    """
    p = layer["padding"]
    if p == "valid":
        return 0
    if p == "same":
        k = int(layer["kernel_size"] if "kernel_size" in layer else layer["size"])
        if k % 2 == 0:
            raise SpecError(f"{layer['name']}: padding 'same' needs an odd kernel size, got {k}")
        return (k - 1) // 2
    return int(p)


def conv_arguments(layer: LayerSpec, in_shape: Shape) -> tuple[int, int, int, int, int, bool]:
    """``(in_channels, filters, kernel_size, stride, padding, bias)`` of a resolved conv2d layer (integer padding)."""
    return in_shape[0], layer["filters"], layer["kernel_size"], layer["stride"], padding_amount(layer), layer["bias"]


def feature_count(shape: Shape) -> int:
    """The length of the feature axis of a per-example shape: F of (F,), C of (C, H, W), D of (T, D).

    It is the axis that normalisations such as LayerNorm work along: the
    channels of an image at each pixel, the width of each token.
    """
    return shape[-1] if len(shape) == 2 else shape[0]

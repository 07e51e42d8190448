"""A PyTorch network built from a resolved spec, with the same parameter names as the NumPy engine.

Module attribute names are the spec's layer names, so ``state_dict`` keys
(``conv1.weight``, ``res2.sc.bn1.running_var``, ...) match the NumPy
engine's and weights can be copied between engines without a mapping table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ...errors import ImgbenchError
from ...specs.layers import conv_arguments

_INIT = {
    "he_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "he_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "glorot_uniform": nn.init.xavier_uniform_,
    "glorot_normal": nn.init.xavier_normal_,
}


class Residual(nn.Module):
    """``main(x) + shortcut(x)``; identity shortcut when it has no layers."""

    def __init__(self, main: Chain, shortcut: Chain):
        super().__init__()
        self.main_names = list(main.order)
        for name in main.order:
            self.add_module(name, getattr(main, name))
        self.sc = shortcut

    def forward(self, x):
        y = x
        for name in self.main_names:
            y = getattr(self, name)(y)
        return y + self.sc(x)


class Chain(nn.Module):
    """Layers applied in order; attributes named after the spec's layer names."""

    def __init__(self, layers: list[tuple[str, nn.Module]]):
        super().__init__()
        self.order = [n for n, _ in layers]
        for n, m in layers:
            self.add_module(n, m)

    def forward(self, x):
        for n in self.order:
            x = getattr(self, n)(x)
        return x


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over axis 1: the features of (N, F), or the channels at each pixel of (N, C, H, W).

    ``nn.LayerNorm`` normalises trailing axes, so a 4-d input is moved to
    channels-last and back; the parameters stay ``weight`` and ``bias``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return super().forward(x)
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)


Builder = Callable[[dict[str, Any], tuple[int, ...]], nn.Module]


def _initialised(m: nn.Linear | nn.Conv2d, spec: dict[str, Any]) -> nn.Module:
    """``m`` with the spec's weight initialiser and zero bias (torch's own defaults differ)."""
    _INIT[spec["init"]](m.weight)
    if m.bias is not None:
        nn.init.zeros_(m.bias)
    return m


def _build(layers: list[dict], in_shape: tuple) -> list[tuple[str, nn.Module]]:
    out = []
    shape = in_shape
    for spec in layers:
        builder = BUILDERS.get(spec["type"])
        if builder is None:
            raise ImgbenchError(f"the torch engine has no builder for layer type '{spec['type']}'")
        out.append((_short(spec["name"]), builder(spec, shape)))
        shape = tuple(spec["output_shape"])
    return out


def _conv2d(spec: dict[str, Any], shape: tuple[int, ...]) -> nn.Module:
    c, f, k, stride, pad, bias = conv_arguments(spec, shape)
    return _initialised(nn.Conv2d(c, f, k, stride=stride, padding=pad, bias=bias), spec)


# Layer type -> build(spec, in_shape): the torch engine's one builder table.
BUILDERS: dict[str, Builder] = {
    "dense": lambda spec, shape: _initialised(nn.Linear(shape[0], spec["units"], bias=spec["bias"]), spec),
    "conv2d": _conv2d,
    "maxpool2d": lambda spec, shape: nn.MaxPool2d(spec["size"], spec["stride"]),
    "avgpool2d": lambda spec, shape: nn.AvgPool2d(spec["size"], spec["stride"]),
    "globalavgpool2d": lambda spec, shape: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1)),
    "flatten": lambda spec, shape: nn.Flatten(1),
    "dropout": lambda spec, shape: nn.Dropout(spec["rate"]),
    "batchnorm": lambda spec, shape: (nn.BatchNorm1d if len(shape) == 1 else nn.BatchNorm2d)(
        shape[0], eps=spec["eps"], momentum=spec["momentum"]
    ),
    "relu": lambda spec, shape: nn.ReLU(),
    "leakyrelu": lambda spec, shape: nn.LeakyReLU(spec["negative_slope"]),
    "sigmoid": lambda spec, shape: nn.Sigmoid(),
    "tanh": lambda spec, shape: nn.Tanh(),
    "softmax": lambda spec, shape: nn.Softmax(dim=1),
    "gelu": lambda spec, shape: nn.GELU(approximate="none"),
    "layernorm": lambda spec, shape: ChannelLayerNorm(shape[0], eps=spec["eps"]),
    "residual": lambda spec, shape: Residual(
        Chain(_build(spec["layers"], shape)), Chain(_build(spec["shortcut"], shape))
    ),
}


def build_torch_model(spec: dict, seed: int | None = None) -> Chain:
    """An ``nn.Module`` for a resolved spec; ``seed`` fixes the initial weights."""
    if seed is not None:
        torch.manual_seed(seed)
    return Chain(_build(spec["layers"], tuple(spec["input_shape"])))


def numpy_state(model: nn.Module) -> dict:
    """The module's state as NumPy arrays under the NumPy engine's names."""
    # .contiguous(): channels-last conv weights would otherwise come out as strided NHWC views.
    return {
        k: v.detach().cpu().contiguous().numpy()
        for k, v in model.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }


def load_numpy_state(model: nn.Module, state: dict) -> None:
    """Copy NumPy-engine arrays into the module (strict on names and shapes)."""
    own = model.state_dict()
    tensors = {k: torch.as_tensor(v) for k, v in state.items()}
    for k in own:
        if k.endswith("num_batches_tracked"):
            tensors[k] = own[k]
    model.load_state_dict(tensors, strict=True)

"""A PyTorch network built from a resolved spec, with the same parameter names as the NumPy engine.

Module attribute names are the spec's layer names, so ``state_dict`` keys
(``conv1.weight``, ``res2.sc.bn1.running_var``, ...) match the NumPy
engine's and weights can be copied between engines without a mapping table.
"""

from __future__ import annotations

import torch
from torch import nn

from ...specs.spec import padding_amount

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


def _build(layers: list[dict], in_shape: tuple) -> list[tuple[str, nn.Module]]:
    out = []
    shape = in_shape
    for spec in layers:
        kind = spec["type"]
        if kind == "dense":
            m = nn.Linear(shape[0], spec["units"], bias=spec["bias"])
        elif kind == "conv2d":
            m = nn.Conv2d(
                shape[0],
                spec["filters"],
                spec["kernel_size"],
                stride=spec["stride"],
                padding=padding_amount(spec),
                bias=spec["bias"],
            )
        elif kind == "maxpool2d":
            m = nn.MaxPool2d(spec["size"], spec["stride"])
        elif kind == "avgpool2d":
            m = nn.AvgPool2d(spec["size"], spec["stride"])
        elif kind == "globalavgpool2d":
            m = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        elif kind == "flatten":
            m = nn.Flatten(1)
        elif kind == "dropout":
            m = nn.Dropout(spec["rate"])
        elif kind == "batchnorm":
            bn = nn.BatchNorm1d if len(shape) == 1 else nn.BatchNorm2d
            m = bn(shape[0], eps=spec["eps"], momentum=spec["momentum"])
        elif kind == "relu":
            m = nn.ReLU()
        elif kind == "leakyrelu":
            m = nn.LeakyReLU(spec["negative_slope"])
        elif kind == "sigmoid":
            m = nn.Sigmoid()
        elif kind == "tanh":
            m = nn.Tanh()
        elif kind == "softmax":
            m = nn.Softmax(dim=1)
        elif kind == "residual":
            m = Residual(Chain(_build(spec["layers"], shape)), Chain(_build(spec["shortcut"], shape)))
        else:
            raise ValueError(kind)
        if kind in ("dense", "conv2d"):
            _INIT[spec["init"]](m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        out.append((_short(spec["name"]), m))
        shape = tuple(spec["output_shape"])
    return out


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

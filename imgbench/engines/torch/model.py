"""A PyTorch network built from a resolved spec, with the same parameter names as the NumPy engine.

Module attribute names are the spec's layer names, so ``state_dict`` keys
(``conv1.weight``, ``res2.sc.bn1.running_var``, ``block1.self_attn.in_proj_weight``, ...)
match the NumPy engine's and weights can be copied between engines without a
mapping table.  Tokens are (N, T, D), as in the NumPy engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ...errors import ImgbenchError
from ...specs.layerdef import conv_arguments, feature_count, padding_amount
from ...specs.tokens import TOKEN_INIT_STD, mlp_width

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


class Concat(nn.Module):
    """Parallel branches (``b1``, ``b2``, ...) joined on the channel axis; an empty branch passes ``x`` on."""

    def __init__(self, branches: list[Chain]):
        super().__init__()
        self.branch_names = [f"b{i}" for i in range(1, len(branches) + 1)]
        for name, branch in zip(self.branch_names, branches, strict=True):
            self.add_module(name, branch)

    def forward(self, x):
        return torch.cat([getattr(self, name)(x) for name in self.branch_names], dim=1)


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the feature axis: the last of (N, F) and (N, T, D), the channels (axis 1) of (N, C, H, W).

    ``nn.LayerNorm`` normalises trailing axes, so a 4-d input is moved to
    channels-last and back; the parameters stay ``weight`` and ``bias``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 4:
            return super().forward(x)
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)


class PatchEmbed(nn.Conv2d):
    """A convolution with kernel = stride = p whose (H/p, W/p) output grid, read row by row, gives (N, T, D) tokens."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).flatten(2).transpose(1, 2)


class ClassToken(nn.Module):
    """A learned ``token`` (D,) put before every example's tokens: (N, T, D) -> (N, T + 1, D)."""

    def __init__(self, dim: int):
        super().__init__()
        self.token = nn.Parameter(torch.empty(dim).normal_(0.0, TOKEN_INIT_STD))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.token.expand(x.shape[0], 1, -1), x], dim=1)


class PositionEmbedding(nn.Module):
    """A learned (T, D) ``embedding`` added to every example's tokens."""

    def __init__(self, tokens: int, dim: int):
        super().__init__()
        self.embedding = nn.Parameter(torch.empty(tokens, dim).normal_(0.0, TOKEN_INIT_STD))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.embedding


class TokenPool(nn.Module):
    """(N, T, D) -> (N, D): the first (class) token, or the mean of the tokens."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0] if self.mode == "class" else x.mean(dim=1)


class SelfAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` on (N, T, D) tokens, each attending to all of its example's tokens."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x, x, x, need_weights=False)[0]


def attention_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The modules whose input fixes an attention (self-attention layers, transformer blocks) in forward order,
    keyed by the attention's state-dict prefix (``mha1``, ``block2.self_attn``)."""
    found: dict[str, nn.Module] = {}
    for name, module in model.named_modules():
        if isinstance(module, SelfAttention):
            found[name] = module
        elif isinstance(module, nn.TransformerEncoderLayer):
            found[f"{name}.self_attn"] = module
    return found


def attention_probabilities(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``(N, heads, T, T)`` attention probabilities of a module from :func:`attention_layers` given its input."""
    if isinstance(module, nn.TransformerEncoderLayer):
        # pre-norm: the attention reads norm1(x).  The block's own forward may take PyTorch's fused fast path,
        # which never calls self_attn, so the probabilities are recomputed from the block's input.
        x = module.norm1(x)
        module = module.self_attn
    assert isinstance(module, nn.MultiheadAttention)
    # the base class's forward: SelfAttention's own asks for no weights
    weights = nn.MultiheadAttention.forward(module, x, x, x, need_weights=True, average_attn_weights=False)[1]
    assert weights is not None  # need_weights=True
    return weights


Builder = Callable[[dict[str, Any], tuple[int, ...]], nn.Module]


def _initialised(m: nn.Linear | nn.Conv2d, spec: dict[str, Any]) -> nn.Module:
    """``m`` with the spec's weight initialiser and zero bias (torch's own defaults differ)."""
    _INIT[spec["init"]](m.weight)
    if m.bias is not None:
        nn.init.zeros_(m.bias)
    return m


def _attention_initialised(m: nn.MultiheadAttention, spec: dict[str, Any]) -> nn.MultiheadAttention:
    """``m`` with each of its four D x D projections drawn on its own from the spec's initialiser, zero biases.

    (PyTorch's own default draws the stacked (3D, D) query-key-value weight as one matrix.)
    """
    for weight in (*m.in_proj_weight.data.chunk(3), m.out_proj.weight.data):
        _INIT[spec["init"]](weight)
    nn.init.zeros_(m.in_proj_bias)
    nn.init.zeros_(m.out_proj.bias)
    return m


def _transformer(spec: dict[str, Any], shape: tuple[int, ...]) -> nn.Module:
    dim = shape[1]
    block = nn.TransformerEncoderLayer(
        dim,
        spec["heads"],
        dim_feedforward=mlp_width(spec, shape),
        dropout=0.0,
        activation="gelu",  # the exact (erf) GELU
        layer_norm_eps=spec["eps"],
        batch_first=True,
        norm_first=True,
    )
    _attention_initialised(block.self_attn, spec)
    _initialised(block.linear1, spec)
    _initialised(block.linear2, spec)
    return block


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


def _depthwise(spec: dict[str, Any], shape: tuple[int, ...]) -> nn.Module:
    c, k, stride, pad = shape[0], spec["kernel_size"], spec["stride"], padding_amount(spec)
    return _initialised(nn.Conv2d(c, c, k, stride=stride, padding=pad, groups=c, bias=spec["bias"]), spec)


def _patchembed(spec: dict[str, Any], shape: tuple[int, ...]) -> nn.Module:
    p = spec["patch_size"]
    return _initialised(PatchEmbed(shape[0], spec["dim"], p, stride=p, bias=spec["bias"]), spec)


# Layer type -> build(spec, in_shape): the torch engine's one builder table.
BUILDERS: dict[str, Builder] = {
    "dense": lambda spec, shape: _initialised(nn.Linear(shape[0], spec["units"], bias=spec["bias"]), spec),
    "conv2d": _conv2d,
    "depthwiseconv2d": _depthwise,
    "maxpool2d": lambda spec, shape: nn.MaxPool2d(spec["size"], spec["stride"], padding_amount(spec)),
    "avgpool2d": lambda spec, shape: nn.AvgPool2d(spec["size"], spec["stride"], padding_amount(spec)),
    "globalavgpool2d": lambda spec, shape: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1)),
    "flatten": lambda spec, shape: nn.Flatten(1),
    "dropout": lambda spec, shape: nn.Dropout(spec["rate"]),
    "batchnorm": lambda spec, shape: (nn.BatchNorm1d if len(shape) == 1 else nn.BatchNorm2d)(
        shape[0], eps=spec["eps"], momentum=spec["momentum"]
    ),
    "relu": lambda spec, shape: nn.ReLU(),
    "relu6": lambda spec, shape: nn.ReLU6(),
    "leakyrelu": lambda spec, shape: nn.LeakyReLU(spec["negative_slope"]),
    "sigmoid": lambda spec, shape: nn.Sigmoid(),
    "tanh": lambda spec, shape: nn.Tanh(),
    "silu": lambda spec, shape: nn.SiLU(),
    "softmax": lambda spec, shape: nn.Softmax(dim=1),
    "gelu": lambda spec, shape: nn.GELU(approximate="none"),
    "layernorm": lambda spec, shape: ChannelLayerNorm(feature_count(shape), eps=spec["eps"]),
    "residual": lambda spec, shape: Residual(
        Chain(_build(spec["layers"], shape)), Chain(_build(spec["shortcut"], shape))
    ),
    "concat": lambda spec, shape: Concat([Chain(_build(branch, shape)) for branch in spec["branches"]]),
    "patchembed": _patchembed,
    "classtoken": lambda spec, shape: ClassToken(shape[1]),
    "posembed": lambda spec, shape: PositionEmbedding(shape[0], shape[1]),
    "mha": lambda spec, shape: _attention_initialised(SelfAttention(shape[1], spec["heads"], batch_first=True), spec),
    "transformer": _transformer,
    "tokenpool": lambda spec, shape: TokenPool(spec["mode"]),
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

"""Token layers of a vision transformer: patch embedding, class token, position embedding, token pooling.

A batch of tokens is (N, T, D): N examples of T tokens with D features (see
:mod:`imgbench.specs.tokens` for the token order).  Each docstring gives the
forward formula, then the backward one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...specs.tokens import TOKEN_INIT_STD
from .conv import Conv2D
from .layers import Builder, Layer

__all__ = ["ClassToken", "PatchEmbed", "PositionEmbedding", "TokenPool"]


def _token_init(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, TOKEN_INIT_STD, shape).astype(np.float32)


class PatchEmbed(Conv2D):
    r"""Non-overlapping p x p patches of (N, C, H, W) images, each projected to D features: (N, T, D).

    It is a :class:`~.conv.Conv2D` with kernel = stride = p (as PyTorch's
    ViT), so ``weight`` is (D, C, p, p).  Because the patches do not overlap,
    the patch matrix is a reshape of the image, no im2col: with :math:`P_{n,t}`
    the patch under token :math:`t = i\, (W/p) + j`, flattened in (c, u, v) order,
    and the weight :math:`W` read as a (D, C p p) matrix:

    Forward:  :math:`Y = P W^\top + b`.
    Backward: :math:`dW \mathrel{+}= dY^\top P`, :math:`db \mathrel{+}= \sum dY`, :math:`dP = dY\, W`,
    put back in place in the image.
    """

    def __init__(self, in_channels: int, dim: int, patch_size: int, **options: Any):
        super().__init__(in_channels, dim, patch_size, stride=patch_size, **options)  # bias, init, rng, name
        self.p = patch_size

    def forward(self, x, *, training=False):
        n, c, h, w = x.shape
        p = self.p
        # (N, C, H/p, p, W/p, p) -> (N, H/p, W/p, C, p, p): one row per patch, grid rows first
        patches = x.reshape(n, c, h // p, p, w // p, p).transpose(0, 2, 4, 1, 3, 5).reshape(n, -1, c * p * p)
        self.cache = (patches, x.shape)
        weight = self.params["weight"]
        y = patches @ weight.reshape(len(weight), -1).T
        if "bias" in self.params:
            y += self.params["bias"]
        return y

    def backward(self, dy):
        patches, (n, c, h, w) = self.cache
        weight = self.params["weight"]
        d, p = len(weight), self.p
        self.grads["weight"] += (dy.reshape(-1, d).T @ patches.reshape(-1, c * p * p)).reshape(weight.shape)
        if "bias" in self.params:
            self.grads["bias"] += dy.sum(axis=(0, 1))
        if not self.needs_input_grad:
            return None
        dpatches = dy @ weight.reshape(d, -1)
        return np.ascontiguousarray(
            dpatches.reshape(n, h // p, w // p, c, p, p).transpose(0, 3, 1, 4, 2, 5).reshape(n, c, h, w)
        )


class ClassToken(Layer):
    r"""A learned ``token`` (D,) put before the T tokens of every example: (N, T, D) -> (N, T + 1, D).

    Forward:  :math:`y_{n,0} = \mathrm{token}`, :math:`y_{n,t} = x_{n,t-1}` for :math:`t = 1, \dots, T`.
    Backward: :math:`d\mathrm{token} \mathrel{+}= \sum_n dy_{n,0}`, :math:`dx_{n,t} = dy_{n,t+1}`.
    """

    def __init__(self, dim: int, *, rng: np.random.Generator | None = None, name: str = ""):
        super().__init__(name)
        self._add_param("token", _token_init((dim,), rng or np.random.default_rng(0)))

    def forward(self, x, *, training=False):
        n, _, d = x.shape
        first = np.broadcast_to(self.params["token"], (n, 1, d))
        return np.concatenate([first, x], axis=1)

    def backward(self, dy):
        self.grads["token"] += dy[:, 0].sum(axis=0)
        return np.ascontiguousarray(dy[:, 1:])


class PositionEmbedding(Layer):
    r"""A learned vector per position, added to every example's tokens.

    Forward:  :math:`y_{n,t} = x_{n,t} + \mathrm{embedding}_t`.
    Backward: :math:`d\mathrm{embedding}_t \mathrel{+}= \sum_n dy_{n,t}`, :math:`dx = dy`.
    """

    def __init__(self, tokens: int, dim: int, *, rng: np.random.Generator | None = None, name: str = ""):
        super().__init__(name)
        self._add_param("embedding", _token_init((tokens, dim), rng or np.random.default_rng(0)))

    def forward(self, x, *, training=False):
        return x + self.params["embedding"]

    def backward(self, dy):
        self.grads["embedding"] += dy.sum(axis=0)
        return dy


class TokenPool(Layer):
    r"""(N, T, D) -> (N, D): the class token (mode ``class``: the first token) or the mean of the T tokens.

    Forward:  :math:`y_n = x_{n,0}` or :math:`y_n = \frac{1}{T} \sum_t x_{n,t}`.
    Backward: :math:`dx_{n,0} = dy_n` and zero elsewhere, or :math:`dx_{n,t} = dy_n / T` for every :math:`t`.
    """

    def __init__(self, mode: str = "mean", name: str = ""):
        super().__init__(name)
        if mode not in ("class", "mean"):
            raise ValueError(f"token pooling mode must be 'class' or 'mean', got {mode!r}")
        self.mode = mode

    def forward(self, x, *, training=False):
        self.cache = x.shape
        return x[:, 0].copy() if self.mode == "class" else x.mean(axis=1)

    def backward(self, dy):
        n, t, d = self.cache
        if self.mode == "class":
            dx = np.zeros(self.cache, dtype=dy.dtype)
            dx[:, 0] = dy
            return dx
        return np.broadcast_to((dy / t)[:, None, :], self.cache).copy()


BUILDERS: dict[str, Builder] = {
    "patchembed": lambda spec, shape, rng: PatchEmbed(
        shape[0], spec["dim"], spec["patch_size"], bias=spec["bias"], init=spec["init"], rng=rng, name=spec["name"]
    ),
    "classtoken": lambda spec, shape, rng: ClassToken(shape[1], rng=rng, name=spec["name"]),
    "posembed": lambda spec, shape, rng: PositionEmbedding(shape[0], shape[1], rng=rng, name=spec["name"]),
    "tokenpool": lambda spec, shape, rng: TokenPool(spec["mode"], spec["name"]),
}

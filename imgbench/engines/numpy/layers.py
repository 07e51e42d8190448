"""Layer contract, and the dense, flatten and dropout layers.

Every layer has ``params`` and ``grads`` dicts of arrays with the same keys,
``forward(x, *, training)`` that caches what backward needs, and
``backward(dy) -> dx`` that *adds* parameter gradients into ``grads`` (so
gradients accumulate until ``zero_grad``) and returns the gradient with
respect to the input.  Buffers that are state but not trained (BatchNorm's
running statistics) live in ``buffers``.  A block made of other layers
(a residual block, a transformer block) yields them from ``named_layers``;
parameters, gradients and weights files are gathered from those leaves.

Each layer module ends with ``BUILDERS``: its rows of the engine's builder
table, layer type -> ``build(spec, in_shape, rng)`` for a resolved layer spec
(see :data:`.model.BUILDERS`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .init import initialise

__all__ = ["Dense", "Dropout", "Flatten", "Layer"]


class Layer:
    """Base class: a layer with no parameters."""

    cache: Any

    def __init__(self, name: str = ""):
        self.name = name
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.cache = None
        self.needs_input_grad = True  # the model's first layer skips computing dx

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def named_layers(self) -> Iterator[tuple[str, Layer]]:
        """The leaf layers with their dotted names: the layer itself; a block made of layers yields those."""
        yield self.name, self

    def zero_grad(self) -> None:
        """Reset accumulated gradients to zero."""
        for g in self.grads.values():
            g.fill(0)

    def astype(self, dtype) -> Layer:
        """Cast parameters, gradients and buffers (float64 for gradient checks)."""
        for d in (self.params, self.grads, self.buffers):
            for k in d:
                d[k] = d[k].astype(dtype)
        return self

    def _add_param(self, key: str, value: np.ndarray) -> None:
        self.params[key] = value
        self.grads[key] = np.zeros_like(value)

    def _add_weight_and_bias(
        self, shape: tuple[int, ...], init: str, bias: bool, rng: np.random.Generator | None
    ) -> None:
        """A ``weight`` of ``shape`` drawn from initialiser ``init`` and, with ``bias``, a zero ``bias`` per output.

        The outputs are the first axis of ``shape`` (PyTorch's layout).  Without ``rng`` the draws come
        from a generator seeded with 0, so a layer built on its own is reproducible.
        """
        self._add_param("weight", initialise(init, shape, rng or np.random.default_rng(0)))
        if bias:
            self._add_param("bias", np.zeros(shape[0], np.float32))


class Dense(Layer):
    r"""Fully-connected layer, with the weight :math:`W` of shape (units, in) as in PyTorch.

    Forward:  :math:`y = x W^\top + b` for a batch :math:`x` of shape (N, in).
    Backward: :math:`dW \mathrel{+}= dy^\top x`, :math:`db \mathrel{+}= \sum_n dy_n`, :math:`dx = dy\, W`.
    """

    def __init__(
        self,
        in_features: int,
        units: int,
        *,
        bias: bool = True,
        init: str = "he_uniform",
        rng: np.random.Generator | None = None,
        name: str = "",
    ):
        super().__init__(name)
        self._add_weight_and_bias((units, in_features), init, bias, rng)

    def forward(self, x, *, training=False):
        self.cache = x
        y = x @ self.params["weight"].T
        if "bias" in self.params:
            y += self.params["bias"]
        return y

    def backward(self, dy):
        x = self.cache
        self.grads["weight"] += dy.T @ x
        if "bias" in self.params:
            self.grads["bias"] += dy.sum(axis=0)
        return dy @ self.params["weight"] if self.needs_input_grad else None


class Flatten(Layer):
    """Reshape (N, C, H, W) to (N, C*H*W) in C order, as torch.flatten(x, 1); backward reshapes ``dy`` back."""

    def forward(self, x, *, training=False):
        self.cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.cache)


class Dropout(Layer):
    r"""Inverted dropout.

    Training: :math:`\mathrm{mask} = [u \ge \mathrm{rate}] / (1 - \mathrm{rate})` with :math:`u \sim U[0, 1)`
    drawn for every element, :math:`y = x \odot \mathrm{mask}`; backward: :math:`dx = dy \odot \mathrm{mask}`
    (the same mask).  Evaluation: :math:`y = x`.
    """

    def __init__(self, rate: float = 0.5, rng: np.random.Generator | None = None, name: str = ""):
        super().__init__(name)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.rng = rng or np.random.default_rng(0)

    def forward(self, x, *, training=False):
        if not training or self.rate == 0.0:
            self.cache = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.rate
        self.cache = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self.cache

    def backward(self, dy):
        return dy if self.cache is None else dy * self.cache


Builder = Callable[[dict[str, Any], tuple[int, ...], np.random.Generator], Layer]

BUILDERS: dict[str, Builder] = {
    "dense": lambda spec, shape, rng: Dense(
        shape[0], spec["units"], bias=spec["bias"], init=spec["init"], rng=rng, name=spec["name"]
    ),
    "flatten": lambda spec, shape, rng: Flatten(spec["name"]),
    # Its own generator, seeded from the model's: building never depends on how many masks are drawn.
    "dropout": lambda spec, shape, rng: Dropout(
        spec["rate"], rng=np.random.default_rng(rng.integers(2**63)), name=spec["name"]
    ),
}

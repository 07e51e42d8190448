r"""Elementwise activations: ReLU, ReLU6, LeakyReLU, sigmoid, tanh, SiLU, softmax, GELU.

Each docstring gives the forward formula, then the backward one
(:math:`dx = \partial L / \partial x` from :math:`dy = \partial L / \partial y`; :math:`[\cdot]` is 1 where the
condition holds and 0 elsewhere).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf  # SciPy comes with scikit-learn; NumPy has no vectorised erf

from ...mathops import softmax
from .layers import Builder, Layer

# Python floats, not NumPy float64 scalars: under NumPy 2's promotion rules a float64 scalar would turn the
# float32 activations into float64 (and every layer after them).
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

__all__ = ["GELU", "LeakyReLU", "ReLU", "ReLU6", "SiLU", "Sigmoid", "Softmax", "Tanh"]


class ReLU(Layer):
    r""":math:`y = \max(x, 0)`; :math:`dx = dy \cdot [x > 0]`."""

    def forward(self, x, *, training=False):
        y = np.maximum(x, 0)
        self.cache = y
        return y

    def backward(self, dy):
        return dy * (self.cache > 0)


class ReLU6(Layer):
    r""":math:`y = \min(\max(x, 0), 6)`; :math:`dx = dy \cdot [0 < x < 6]`.

    The gradient is zero at the kinks, as in PyTorch and TensorFlow.
    """

    def forward(self, x, *, training=False):
        self.cache = (x > 0) & (x < 6)
        return np.clip(x, 0, 6)

    def backward(self, dy):
        return dy * self.cache


class LeakyReLU(Layer):
    r""":math:`y = x` where :math:`x > 0`, else :math:`a x`; :math:`dx = dy` there, else :math:`a\, dy`."""

    def __init__(self, negative_slope: float = 0.01, name: str = ""):
        super().__init__(name)
        self.a = negative_slope

    def forward(self, x, *, training=False):
        self.cache = x > 0
        return np.where(self.cache, x, x * x.dtype.type(self.a))

    def backward(self, dy):
        return np.where(self.cache, dy, dy * dy.dtype.type(self.a))


class Sigmoid(Layer):
    r""":math:`y = 1 / (1 + e^{-x})`; :math:`dx = dy\, y (1 - y)`.

    Computed as :math:`(1 + \tanh(x/2)) / 2`, which cannot overflow.
    """

    def forward(self, x, *, training=False):
        y = 0.5 * (1.0 + np.tanh(0.5 * x))
        self.cache = y
        return y

    def backward(self, dy):
        y = self.cache
        return dy * y * (1.0 - y)


class Tanh(Layer):
    r""":math:`y = \tanh x`; :math:`dx = dy\, (1 - y^2)`."""

    def forward(self, x, *, training=False):
        y = np.tanh(x)
        self.cache = y
        return y

    def backward(self, dy):
        return dy * (1.0 - self.cache**2)


class SiLU(Layer):
    r"""Sigmoid linear unit (swish): :math:`y = x s` with :math:`s = \sigma(x)`; :math:`dx = dy\, s (1 + x (1 - s))`."""

    def forward(self, x, *, training=False):
        s = 0.5 * (1.0 + np.tanh(0.5 * x))  # sigmoid without overflow, as Sigmoid computes it
        self.cache = (x, s)
        return x * s

    def backward(self, dy):
        x, s = self.cache
        return dy * s * (1.0 + x * (1.0 - s))


class Softmax(Layer):
    r""":math:`y_i = e^{x_i} / \sum_j e^{x_j}`; :math:`dx = y \odot (dy - \sum_j dy_j\, y_j)`.

    As a last layer it turns logits into probabilities; for training use the
    fused :class:`~imgbench.engines.numpy.losses.SoftmaxCrossEntropy` on logits.
    """

    def forward(self, x, *, training=False):
        y = softmax(x, axis=1)
        self.cache = y
        return y

    def backward(self, dy):
        y = self.cache
        return y * (dy - (dy * y).sum(axis=1, keepdims=True))


class GELU(Layer):
    r"""Gaussian error linear unit, exact (erf) form: PyTorch's ``nn.GELU()``, Keras's ``gelu(approximate=False)``.

    Forward:  :math:`y = x \Phi(x)` with the standard normal CDF
    :math:`\Phi(x) = (1 + \operatorname{erf}(x / \sqrt 2)) / 2`.
    Backward: :math:`dx = dy\, (\Phi(x) + x \varphi(x))` with the standard normal density
    :math:`\varphi(x) = e^{-x^2 / 2} / \sqrt{2 \pi}`.
    """

    def forward(self, x, *, training=False):
        cdf = 0.5 * (1.0 + erf(x * _INV_SQRT2))
        self.cache = (x, cdf)
        return x * cdf

    def backward(self, dy):
        x, cdf = self.cache
        pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return dy * (cdf + x * pdf)


BUILDERS: dict[str, Builder] = {
    "relu": lambda spec, shape, rng: ReLU(spec["name"]),
    "relu6": lambda spec, shape, rng: ReLU6(spec["name"]),
    "leakyrelu": lambda spec, shape, rng: LeakyReLU(spec["negative_slope"], spec["name"]),
    "sigmoid": lambda spec, shape, rng: Sigmoid(spec["name"]),
    "tanh": lambda spec, shape, rng: Tanh(spec["name"]),
    "silu": lambda spec, shape, rng: SiLU(spec["name"]),
    "softmax": lambda spec, shape, rng: Softmax(spec["name"]),
    "gelu": lambda spec, shape, rng: GELU(spec["name"]),
}

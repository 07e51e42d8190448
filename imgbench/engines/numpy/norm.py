"""Normalisation layers: batch normalisation (1-d for (N, F), 2-d for (N, C, H, W), PyTorch semantics) and
layer normalisation (over the features of each example or token, or the channels at each pixel)."""

from __future__ import annotations

import numpy as np

from ...specs.layerdef import feature_count
from .layers import Builder, Layer

__all__ = ["BatchNorm", "LayerNorm"]


class BatchNorm(Layer):
    r"""Batch normalisation over every axis but the channel axis 1.

    Training, with means over the :math:`m` values of each channel (every example and pixel):

    .. math:: \mu = \operatorname{mean} x, \quad \sigma^2 = \operatorname{mean} (x - \mu)^2, \quad
       \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y = \gamma \hat x + \beta

    The running statistics, :math:`r \leftarrow (1 - \mathrm{momentum})\, r + \mathrm{momentum} \cdot \mathrm{stat}`,
    use the *unbiased* batch variance :math:`\sigma^2 m / (m - 1)` (as PyTorch).  Evaluation normalises
    with the running statistics.

    Backward (training): :math:`d\gamma \mathrel{+}= \sum dy\, \hat x`, :math:`d\beta \mathrel{+}= \sum dy`,

    .. math:: dx = \frac{\gamma}{\sqrt{\sigma^2 + \epsilon}}
       \left(dy - \operatorname{mean} dy - \hat x \operatorname{mean}(dy\, \hat x)\right)
    """

    # Set by NumpyEngine.freeze: a frozen layer normalises with its running statistics even while the
    # model trains, so they stay as they were (PyTorch's eval(), Keras's trainable=False).
    frozen = False

    def __init__(self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5, name: str = ""):
        super().__init__(name)
        self.momentum, self.eps = momentum, eps
        self._add_param("weight", np.ones(num_features, np.float32))
        self._add_param("bias", np.zeros(num_features, np.float32))
        self.buffers = {
            "running_mean": np.zeros(num_features, np.float32),
            "running_var": np.ones(num_features, np.float32),
        }

    @staticmethod
    def _axes(x):
        return (0,) if x.ndim == 2 else (0, 2, 3)

    @staticmethod
    def _bshape(x):
        return (1, -1) if x.ndim == 2 else (1, -1, 1, 1)

    def forward(self, x, *, training=False):
        axes, shp = self._axes(x), self._bshape(x)
        gamma, beta = self.params["weight"].reshape(shp), self.params["bias"].reshape(shp)
        if training and not self.frozen:
            m = x.size // x.shape[1]
            mu = x.mean(axis=axes)
            xc = x - mu.reshape(shp)
            x_hat = np.multiply(xc, xc)  # the squares first; the same buffer then holds x_hat
            var = x_hat.mean(axis=axes)
            inv_std = 1.0 / np.sqrt(var + self.eps)
            np.multiply(xc, inv_std.reshape(shp), out=x_hat)
            mom = self.momentum
            rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
            rm *= 1 - mom
            rm += mom * mu.astype(rm.dtype)
            rv *= 1 - mom
            rv += mom * (var * (m / max(m - 1, 1))).astype(rv.dtype)
            self.cache = (x_hat, inv_std, axes, shp)
            return _scale_shift(x_hat, gamma, beta)
        inv_std = 1.0 / np.sqrt(self.buffers["running_var"] + self.eps)
        x_hat = (x - self.buffers["running_mean"].reshape(shp)) * inv_std.reshape(shp)
        self.cache = (x_hat, inv_std.astype(x.dtype), None, shp)
        return _scale_shift(x_hat, gamma, beta)

    def backward(self, dy):
        x_hat, inv_std, axes, shp = self.cache
        axes_ = axes or self._axes(dy)
        dy_xhat = dy * x_hat  # formed once: dgamma's sum and dx's mean both read it
        self.grads["weight"] += dy_xhat.sum(axis=axes_)
        self.grads["bias"] += dy.sum(axis=axes_)
        g = (self.params["weight"] * inv_std).reshape(shp)
        if axes is None:  # evaluation mode: statistics are constants
            return dy * g
        mean_dy = dy.mean(axis=axes, keepdims=True)
        mean_dy_xhat = dy_xhat.mean(axis=axes, keepdims=True)
        # g (dy - mean dy - x_hat mean(dy x_hat)), in place in two buffers rather than four temporaries
        dx = dy - mean_dy
        np.multiply(x_hat, mean_dy_xhat, out=dy_xhat)
        dx -= dy_xhat
        dx *= g
        return dx


def _scale_shift(x_hat: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``gamma * x_hat + beta`` into one new array (not two)."""
    y = np.multiply(x_hat, gamma)
    y += beta
    return y


class LayerNorm(Layer):
    r"""Layer normalisation over the feature axis, separately for every example, token and pixel.

    The feature axis is the last one of (N, F) and of tokens (N, T, D): each
    example's F features, each token's D features, are normalised.  Of an
    (N, C, H, W) input it is axis 1: the C channels at each pixel (ConvNeXt's
    channels-first LayerNorm, Keras's ``LayerNormalization(axis=-1)`` on NHWC;
    note that PyTorch's ``nn.LayerNorm([C, H, W])`` would normalise over all
    three axes).  With means over that axis of D values, and :math:`w` (``weight``),
    :math:`b` (``bias``) one per feature or channel:

    Forward:

    .. math:: \mu = \operatorname{mean} x, \quad \sigma^2 = \operatorname{mean} (x - \mu)^2, \quad
       \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y = w \hat x + b

    No running statistics: training and inference agree.

    Backward: :math:`dw \mathrel{+}= \sum dy\, \hat x`, :math:`db \mathrel{+}= \sum dy` (sums over examples, tokens
    and pixels); with :math:`g = dy\, w`:

    .. math:: dx = \frac{g - \operatorname{mean} g - \hat x \operatorname{mean}(g\, \hat x)}{\sqrt{\sigma^2 + \epsilon}}
    """

    def __init__(self, num_features: int, *, eps: float = 1e-5, name: str = ""):
        super().__init__(name)
        self.eps = eps
        self._add_param("weight", np.ones(num_features, np.float32))
        self._add_param("bias", np.zeros(num_features, np.float32))

    @staticmethod
    def _axis(x) -> int:
        return 1 if x.ndim == 4 else x.ndim - 1

    def _along_axis(self, x, key: str):
        """Parameter ``key`` shaped to broadcast along the feature axis of ``x``."""
        shape = [1] * x.ndim
        shape[self._axis(x)] = -1
        return self.params[key].reshape(shape)

    def forward(self, x, *, training=False):
        axis = self._axis(x)
        xc = x - x.mean(axis=axis, keepdims=True)
        inv_std = 1.0 / np.sqrt((xc * xc).mean(axis=axis, keepdims=True) + self.eps)
        x_hat = xc * inv_std
        self.cache = (x_hat, inv_std)
        return self._along_axis(x, "weight") * x_hat + self._along_axis(x, "bias")

    def backward(self, dy):
        x_hat, inv_std = self.cache
        axis = self._axis(dy)
        others = tuple(a for a in range(dy.ndim) if a != axis)  # every axis but the normalised one
        self.grads["weight"] += (dy * x_hat).sum(axis=others)
        self.grads["bias"] += dy.sum(axis=others)
        g = dy * self._along_axis(dy, "weight")
        mean_g, mean_gx = g.mean(axis=axis, keepdims=True), (g * x_hat).mean(axis=axis, keepdims=True)
        return inv_std * (g - mean_g - x_hat * mean_gx)


BUILDERS: dict[str, Builder] = {
    "batchnorm": lambda spec, shape, rng: BatchNorm(
        shape[0], momentum=spec["momentum"], eps=spec["eps"], name=spec["name"]
    ),
    "layernorm": lambda spec, shape, rng: LayerNorm(feature_count(shape), eps=spec["eps"], name=spec["name"]),
}

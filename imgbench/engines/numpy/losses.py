"""Softmax cross-entropy on logits, with label smoothing."""

from __future__ import annotations

import numpy as np

from ...mathops import log_softmax


class SoftmaxCrossEntropy:
    r"""Fused softmax + cross-entropy, averaged over the batch.

    With :math:`K` classes and smoothing :math:`\epsilon` the target distribution is
    :math:`q = (1 - \epsilon)\, \mathrm{onehot}(y) + \epsilon / K` (PyTorch's definition), and

    .. math:: L = -\frac{1}{N} \sum_n \sum_k q_{nk} \log \mathrm{softmax}(z_n)_k

    with :math:`\log \mathrm{softmax}` computed through log-sum-exp.  Its gradient with respect to the logits is
    :math:`\partial L / \partial z = (\mathrm{softmax}(z) - q) / N`.
    """

    def __init__(self, label_smoothing: float = 0.0):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.eps = label_smoothing
        self.cache: tuple[np.ndarray, np.ndarray] | None = None

    def _targets(self, y: np.ndarray, k: int, dtype) -> np.ndarray:
        q = np.full((len(y), k), self.eps / k, dtype=dtype)
        q[np.arange(len(y)), y] += 1.0 - self.eps
        return q

    def forward(self, logits: np.ndarray, y: np.ndarray) -> float:
        """Mean loss; caches what :meth:`backward` needs."""
        logp = log_softmax(logits, axis=1)
        q = self._targets(y, logits.shape[1], logits.dtype)
        self.cache = (logp, q)
        return float(-(q * logp).sum() / len(y))

    def backward(self) -> np.ndarray:
        """Gradient of the mean loss with respect to the logits."""
        if self.cache is None:
            raise RuntimeError("backward() before forward()")
        logp, q = self.cache
        return (np.exp(logp) - q) / len(q)

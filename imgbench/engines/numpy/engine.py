"""The NumPy engine behind the common adapter protocol used by the training loop."""

from __future__ import annotations

import numpy as np

from . import dataparallel
from .losses import SoftmaxCrossEntropy
from .model import NumpyModel
from .optim import SGD, Adam, AdamW


def make_optimizer(
    name: str, params, lr: float, weight_decay: float = 0.0, momentum: float = 0.9, nesterov: bool = False
):
    """``sgd`` (momentum, optional Nesterov), ``adam`` or ``adamw`` over ``params``."""
    if name == "sgd":
        return SGD(params, lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    if name == "adam":
        return Adam(params, lr, weight_decay=weight_decay)
    if name == "adamw":
        return AdamW(params, lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer '{name}': expected sgd, adam or adamw")


class NumpyEngine:
    """Adapter: ``fit_batch`` / ``predict_logits`` / ``activations`` / ``state_dict`` / ``load`` / ``param_count``."""

    name = "numpy"

    def __init__(
        self,
        spec: dict,
        *,
        seed: int = 0,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        nesterov: bool = False,
        label_smoothing: float = 0.0,
        half_batches: bool | None = None,
    ):
        self.model = NumpyModel(spec, seed=seed)
        self.spec = self.model.spec
        self.loss = SoftmaxCrossEntropy(label_smoothing)
        self.optimizer = make_optimizer(optimizer, self.model.parameters(), lr, weight_decay, momentum, nesterov)
        # half_batches=None: on when it is exact for this model and there are cores to use.
        if half_batches is None:
            half_batches = dataparallel.supports(self.spec) and dataparallel.worthwhile()
        self.half_step = dataparallel.HalfBatchStep(self.model, label_smoothing) if half_batches else None

    def set_lr(self, lr: float) -> None:
        self.optimizer.lr = float(lr)

    def fit_batch(self, X: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """One optimisation step; returns the batch's mean loss and number of correct predictions."""
        if self.half_step is not None and len(y) >= dataparallel.MIN_BATCH:
            loss, hits = self.half_step(X, y)
            self.optimizer.step()
            return loss, hits
        self.model.zero_grad()
        logits = self.model.forward(X, training=True)
        loss = self.loss.forward(logits, y)
        self.model.backward(self.loss.backward())
        self.optimizer.step()
        return loss, int((logits.argmax(axis=1) == y).sum())

    def predict_logits(self, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Logits in evaluation mode (dropout off, BatchNorm running statistics)."""
        return (
            np.concatenate(
                [self.model.forward(X[i : i + batch_size], training=False) for i in range(0, len(X), batch_size)]
            )
            if len(X)
            else np.zeros((0, self.spec["num_classes"]))
        )

    def activations(self, X: np.ndarray, layer_names=None) -> dict[str, np.ndarray]:
        return self.model.activations(X, layer_names)

    def input_gradient(self, X: np.ndarray, classes) -> np.ndarray:
        """``d logits[n, classes[n]] / d X[n]`` in evaluation mode (saliency), shaped like ``X``."""
        logits = self.model.forward(X, training=False)
        d = np.zeros_like(logits)
        d[np.arange(len(X)), np.asarray(classes)] = 1.0
        grad = self.model.input_gradient(d)
        self.model.zero_grad()  # backward also accumulated parameter gradients; they are not wanted
        return grad

    def param_count(self) -> int:
        return self.model.param_count()

    def state_dict(self) -> dict[str, np.ndarray]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.model.load_state_dict(state)

    def save(self, path) -> None:
        """Weights and spec in one ``.npz`` (no pickle)."""
        self.model.save(path)

    def load(self, path) -> None:
        """Load weights written by :meth:`save`; the file's spec must match this model."""
        loaded = NumpyModel.load(path)
        self.model.load_state_dict(loaded.state_dict())

    def reseed(self, seed: int, epoch: int) -> None:
        """Dropout masks depend only on (seed, epoch, layer), so a resumed run repeats them."""
        from .layers import Dropout

        for i, (_, layer) in enumerate(self.model.net.named_layers()):
            if isinstance(layer, Dropout):
                layer.rng = np.random.default_rng([seed, epoch, i])

    def save_checkpoint(self, path) -> None:
        """Weights and optimiser state in one ``.npz``, atomically (for ``--resume``)."""
        from ...fileio import atomic_write

        arrays = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        arrays.update({f"optim/{k}": v for k, v in self.optimizer.state_dict().items()})
        with atomic_write(path, "wb") as fh:
            np.savez(fh, **arrays)

    def load_checkpoint(self, path) -> None:
        """Restore what :meth:`save_checkpoint` wrote."""
        with np.load(path, allow_pickle=False) as z:
            self.model.load_state_dict({k[6:]: z[k] for k in z.files if k.startswith("model/")})
            self.optimizer.load_state_dict({k[6:]: z[k] for k in z.files if k.startswith("optim/")})

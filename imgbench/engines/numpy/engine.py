"""The NumPy engine behind the common adapter protocol used by the training loop."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base import EngineOptions, engine_options, in_layers, pick_optimizer, reading_weights, zero_logits
from . import dataparallel
from .losses import SoftmaxCrossEntropy
from .model import NumpyModel
from .optim import SGD, Adam, AdamW, Optimizer

# One constructor per name in engines.base.OPTIMIZERS; the update rules follow torch.optim's.
_OPTIMIZERS = {
    "sgd": lambda params, o: SGD(params, o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay),
    "adam": lambda params, o: Adam(params, o.lr, weight_decay=o.weight_decay),
    "adamw": lambda params, o: AdamW(params, o.lr, weight_decay=o.weight_decay),
}


def make_optimizer(params: list, options: EngineOptions) -> Optimizer:
    """The optimiser ``options.optimizer`` over ``(name, parameter, gradient)`` triples."""
    return pick_optimizer(_OPTIMIZERS, options.optimizer)(params, options)


class NumpyEngine:
    """The from-scratch engine behind :class:`~imgbench.engines.base.Engine`.

    ``half_batches`` (its own option): train on both halves of each batch at once, one core each;
    ``None`` turns it on when that is exact for the model and there are cores to use.
    """

    name = "numpy"

    def __init__(
        self, spec: dict, options: EngineOptions | None = None, *, half_batches: bool | None = None, **overrides: Any
    ):
        options = engine_options(options, overrides)
        self.options = options  # freeze() builds a fresh optimiser from them
        self.model = NumpyModel(spec, seed=options.seed)
        self.spec = self.model.spec
        self.loss = SoftmaxCrossEntropy(options.label_smoothing)
        self.optimizer = make_optimizer(self.model.parameters(), options)
        if half_batches is None:
            half_batches = dataparallel.supports(self.spec) and dataparallel.worthwhile()
        self.half_step = dataparallel.HalfBatchStep(self.model, options.label_smoothing) if half_batches else None

    def set_lr(self, lr: float) -> None:
        self.optimizer.lr = float(lr)

    def freeze(self, layers) -> None:
        """Leave the named layers' parameters out of a fresh optimiser; their BatchNorm uses running statistics."""
        from .norm import BatchNorm

        for name, layer in self.model.net.named_layers():
            if isinstance(layer, BatchNorm):
                layer.frozen = in_layers(name, layers)
        trainable = [(n, p, g) for n, p, g in self.model.parameters() if not in_layers(n.rpartition(".")[0], layers)]
        self.optimizer = make_optimizer(trainable, self.options)

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
        if len(X) == 0:
            return zero_logits(self.spec["num_classes"])
        return np.concatenate(
            [self.model.forward(X[i : i + batch_size], training=False) for i in range(0, len(X), batch_size)]
        )

    def activations(self, X: np.ndarray, layer_names=None) -> dict[str, np.ndarray]:
        return self.model.activations(X, layer_names)

    def attention_maps(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Each attention's probabilities ``(N, heads, T, T)``, read from its cache after one forward pass."""
        from .attention import MultiHeadAttention

        attentions = [(n, layer) for n, layer in self.model.net.named_layers() if isinstance(layer, MultiHeadAttention)]
        if attentions:
            self.model.forward(X, training=False)
        # float32 as the protocol says: layers after the GELU compute in float64 (its 1/sqrt(2) is a float64 scalar)
        return {n: layer.probabilities.astype(np.float32) for n, layer in attentions}

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

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        self.model.load_state_dict(dict(state))

    def save(self, path) -> None:
        """Weights and spec in one ``.npz`` (no pickle)."""
        self.model.save(path)

    def load(self, path) -> None:
        """Load weights written by :meth:`save`; the file's spec must match this model."""
        with reading_weights(path, "NumPy weights"):
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

        arrays: dict[str, Any] = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        arrays.update({f"optim/{k}": v for k, v in self.optimizer.state_dict().items()})
        with atomic_write(path, "wb") as fh:
            np.savez(fh, **arrays)

    def load_checkpoint(self, path) -> None:
        """Restore what :meth:`save_checkpoint` wrote."""
        with reading_weights(path, "a NumPy checkpoint"), np.load(path, allow_pickle=False) as z:
            self.model.load_state_dict({k[6:]: z[k] for k in z.files if k.startswith("model/")})
            self.optimizer.load_state_dict({k[6:]: z[k] for k in z.files if k.startswith("optim/")})


if TYPE_CHECKING:  # mypy holds the class to the adapter protocol
    from ..base import Engine

    def _conforms(engine: NumpyEngine) -> Engine:
        return engine

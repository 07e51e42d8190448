"""The engine-agnostic training loop.

Every engine is driven the same way: the same stratified validation split,
normalisation fitted on the training part only, the same seeded batches (and
augmentation), the same learning-rate schedule set before every step.  Only
the engine differs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..data import Augmenter, BatchIterator, Dataset, Normalizer, train_val_split
from .schedules import make_schedule


@dataclass
class TrainConfig:
    """Settings of one training run (recorded with the run)."""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    schedule: str = "constant"
    warmup_steps: int = 0
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    augment: bool = False
    val_split: float = 0.1
    seed: int = 0
    max_steps: int = 0  # > 0: stop after this many steps (dry runs)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class History:
    """One row per epoch: epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds."""

    rows: list[dict] = field(default_factory=list)

    def last(self) -> dict:
        return self.rows[-1] if self.rows else {}


def loss_and_accuracy(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean softmax cross-entropy and accuracy of ``logits`` (float64, log-sum-exp)."""
    if len(y) == 0:
        return float("nan"), float("nan")
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean()), float((logits.argmax(axis=1) == y).mean())


def fit(engine, ds: Dataset, cfg: TrainConfig, callbacks=()) -> tuple[History, Normalizer]:
    """Train ``engine`` on ``ds``'s training split; returns the history and the normaliser used.

    ``callbacks`` receive ``on_epoch_end(epoch, row)``; the test split is not touched here.
    """
    if cfg.val_split > 0:
        X_tr, y_tr, X_val, y_val = train_val_split(ds.X_train, ds.y_train, cfg.val_split, cfg.seed)
    else:
        X_tr, y_tr, X_val, y_val = ds.X_train, ds.y_train, ds.X_train[:0], ds.y_train[:0]
    norm = Normalizer.fit(X_tr)
    augment = Augmenter.for_dataset(ds.image_shape) if cfg.augment else None
    batches = BatchIterator(X_tr, y_tr, cfg.batch_size, seed=cfg.seed, transform=norm, augment=augment)
    total = cfg.epochs * len(batches)
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    kw = {"warmup": cfg.warmup_steps} if cfg.schedule == "cosine" else {}
    schedule = make_schedule(cfg.schedule, cfg.lr, total, **kw)
    X_val_n = norm(X_val)
    history = History()
    step = 0
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for Xb, yb in batches.epoch(epoch):
            lr = schedule(step)
            engine.set_lr(lr)
            loss, hits = engine.fit_batch(Xb, yb)
            loss_sum += loss * len(yb)
            correct += hits
            seen += len(yb)
            step += 1
            if cfg.max_steps and step >= cfg.max_steps:
                break
        val_loss, val_acc = loss_and_accuracy(engine.predict_logits(X_val_n), y_val)
        row = {"epoch": epoch + 1, "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1),
               "val_loss": val_loss, "val_acc": val_acc, "lr": lr, "seconds": time.perf_counter() - t0}
        history.rows.append(row)
        for cb in callbacks:
            cb.on_epoch_end(epoch + 1, row)
        if cfg.max_steps and step >= cfg.max_steps:
            break
    return history, norm


def accuracy_on_test(engine, ds: Dataset, norm: Normalizer) -> float:
    """Accuracy on the test split (touched once, at the end)."""
    return loss_and_accuracy(engine.predict_logits(norm(ds.X_test)), ds.y_test)[1]

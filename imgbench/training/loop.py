"""The engine-agnostic training loop.

Every engine is driven the same way: the same stratified validation split,
normalisation fitted on the training part only, the same seeded batches (and
augmentation), the same learning-rate schedule set before every step.  Only
the engine differs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..data import Augmenter, BatchIterator, Dataset, Normalizer, train_val_split
from ..mathops import log_softmax
from ..settings import TrainConfig  # defined with every other setting; imported from here too
from .phases import Phases
from .schedules import make_schedule


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
    logp = log_softmax(logits.astype(np.float64), axis=1)
    return float(-logp[np.arange(len(y)), y].mean()), float((logits.argmax(axis=1) == y).mean())


def split_for_training(ds: Dataset, cfg: TrainConfig):
    """``(X_train, y_train, X_val, y_val)``: the seeded stratified validation split of the train split."""
    if cfg.val_split > 0:
        return train_val_split(ds.X_train, ds.y_train, cfg.val_split, cfg.seed)
    return ds.X_train, ds.y_train, ds.X_train[:0], ds.y_train[:0]


class TrainingLoop:
    """Runs epochs ``start_epoch .. cfg.epochs - 1`` of ``engine`` on ``ds``.

    ``phases`` (transfer learning) freezes layers as each phase begins and scales the scheduled learning rate.
    """

    def __init__(
        self,
        engine,
        ds: Dataset,
        cfg: TrainConfig,
        callbacks=(),
        normalizer: Normalizer | None = None,
        phases: Phases | None = None,
    ):
        self.engine, self.ds, self.cfg, self.phases = engine, ds, cfg, phases
        self.callbacks = list(callbacks)
        X_tr, y_tr, self.X_val, self.y_val = split_for_training(ds, cfg)
        self.normalizer = normalizer or Normalizer.fit(X_tr)
        augment = Augmenter.from_policy(cfg.augmentation, ds.image_shape) if cfg.augment else None
        self.batches = BatchIterator(
            X_tr, y_tr, cfg.batch_size, seed=cfg.seed, transform=self.normalizer, augment=augment
        )
        self.steps_per_epoch = len(self.batches)
        total = cfg.epochs * self.steps_per_epoch
        self.total_steps = min(total, cfg.max_steps) if cfg.max_steps else total
        kw = {"warmup": cfg.warmup_steps} if cfg.schedule == "cosine" else {}
        self.schedule = make_schedule(cfg.schedule, cfg.lr, self.total_steps, **kw)
        self.epoch = 0

    def run(self, start_epoch: int = 0, history: History | None = None) -> History:
        """Train from ``start_epoch`` (0, or the epoch a resumed run stopped after)."""
        history = history or History()
        X_val_n = self.normalizer(self.X_val)
        step = start_epoch * self.steps_per_epoch
        for cb in self.callbacks:
            cb.on_train_begin(self)
        for epoch in range(start_epoch, self.cfg.epochs):
            if self.cfg.max_steps and step >= self.cfg.max_steps:
                break
            self.epoch = epoch
            self.engine.reseed(self.cfg.seed, epoch)
            t0 = time.perf_counter()
            loss_sum, correct, seen = 0.0, 0, 0
            scale = 1.0
            if self.phases is not None:
                if self.phases.begins(epoch):
                    self.phases.apply(self.engine, epoch)
                scale = self.phases.lr_scale(epoch)
            lr = self.schedule(step) * scale
            for Xb, yb in self.batches.epoch(epoch):
                lr = self.schedule(step) * scale
                self.engine.set_lr(lr)
                loss, hits = self.engine.fit_batch(Xb, yb)
                loss_sum += loss * len(yb)
                correct += hits
                seen += len(yb)
                step += 1
                for cb in self.callbacks:
                    cb.on_batch_end(step, loss)
                if self.cfg.max_steps and step >= self.cfg.max_steps:
                    break
            val_loss, val_acc = loss_and_accuracy(self.engine.predict_logits(X_val_n), self.y_val)
            row = {
                "epoch": epoch + 1,
                "train_loss": loss_sum / max(seen, 1),
                "train_acc": correct / max(seen, 1),
                "val_loss": val_loss,
                "val_acc": val_acc,
                "lr": lr,
                "seconds": time.perf_counter() - t0,
            }
            history.rows.append(row)
            for cb in self.callbacks:
                cb.on_epoch_end(epoch + 1, row)
            if any(cb.stop_training for cb in self.callbacks):
                break
        for cb in self.callbacks:
            cb.on_train_end(history)
        return history


def fit(engine, ds: Dataset, cfg: TrainConfig, callbacks=()) -> tuple[History, Normalizer]:
    """Train ``engine`` on ``ds``'s training split; returns the history and the normaliser used."""
    loop = TrainingLoop(engine, ds, cfg, callbacks)
    return loop.run(), loop.normalizer


def accuracy_on_test(engine, ds: Dataset, norm: Normalizer) -> float:
    """Accuracy on the test split (touched once, at the end)."""
    return loss_and_accuracy(engine.predict_logits(norm(ds.X_test)), ds.y_test)[1]

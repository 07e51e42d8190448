"""The callback interface of the training loop, and the built-in callbacks.

A callback may implement any of ``on_train_begin(loop)``, ``on_batch_end(step, loss)``,
``on_epoch_end(epoch, row)`` and ``on_train_end(history)``, and may set
``stop_training = True`` to end training after the current epoch.  Experiment
trackers plug in here.
"""

from __future__ import annotations

import math
import sys


class Callback:
    """Base class: every hook does nothing."""

    stop_training = False

    def on_train_begin(self, loop) -> None:
        pass

    def on_batch_end(self, step: int, loss: float) -> None:
        pass

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        pass

    def on_train_end(self, history) -> None:
        pass


def improved(value: float, best: float | None, monitor: str, min_delta: float = 0.0) -> bool:
    """Is ``value`` of ``monitor`` better than ``best`` by more than ``min_delta``?

    Lower is better for ``val_loss``, higher for accuracies; with no ``best`` yet, any value is.
    """
    if best is None:
        return True
    if monitor == "val_loss":
        return value < best - min_delta
    return value > best + min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` (``val_loss`` or ``val_acc``) has not improved for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0):
        if monitor not in ("val_loss", "val_acc"):
            raise ValueError(f"early stopping monitors val_loss or val_acc, not '{monitor}'")
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.best = math.inf if monitor == "val_loss" else -math.inf
        self.wait = 0
        self.stop_training = False

    def on_epoch_end(self, epoch, row):
        value = row[self.monitor]
        if improved(value, self.best, self.monitor, self.min_delta):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            self.stop_training = self.wait >= self.patience

    def state(self) -> dict:
        return {"best": self.best, "wait": self.wait}

    def restore(self, state: dict) -> None:
        self.best, self.wait = state["best"], state["wait"]


def bar_class(tty: bool):
    """The progress bar to draw: tqdm's notebook widget in Jupyter (where ipywidgets is installed), its text
    bar on a terminal, and None elsewhere (a log file, a pipe, a notebook without widgets)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm.auto's notes on which bar it picked, or that ipywidgets is missing
        from tqdm.auto import tqdm
    from tqdm.notebook import tqdm as widget

    if issubclass(tqdm, widget):
        return tqdm
    return tqdm if tty else None


class Progress(Callback):
    """A tqdm bar with loss, accuracy and ETA on a terminal or in Jupyter (a widget); one line per epoch otherwise."""

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.bar = None

    def on_train_begin(self, loop):
        self.loop = loop
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar_class = None if self.quiet else bar_class(self.tty)

    def _open_bar(self, epoch):
        self.bar = self.bar_class(
            total=self.loop.steps_per_epoch,
            desc=f"epoch {epoch}/{self.loop.cfg.epochs}",
            file=self.stream,
            leave=False,
            unit="batch",
            dynamic_ncols=True,
        )

    def on_batch_end(self, step, loss):
        if self.bar_class is None:
            return
        if self.bar is None:
            self._open_bar(self.loop.epoch + 1)
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def on_epoch_end(self, epoch, row):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.quiet:
            return
        print(
            f"epoch {epoch}/{self.loop.cfg.epochs}  loss {row['train_loss']:.4f}  acc {row['train_acc']:.4f}  "
            f"val_loss {row['val_loss']:.4f}  val_acc {row['val_acc']:.4f}  lr {row['lr']:.2e}  "
            f"{row['seconds']:.1f}s",
            file=self.stream,
            flush=True,
        )

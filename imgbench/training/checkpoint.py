"""The per-epoch checkpoint of a run: weights, optimiser state, history and the progress record."""

from __future__ import annotations

from pathlib import Path

from ..engines import WEIGHT_SUFFIX
from ..fileio import write_json
from .callbacks import Callback, EarlyStopping, improved
from .history import write_history


class RunWriter(Callback):
    """After every epoch: history.csv, weights/last, the resume checkpoint and, on improvement, weights/best."""

    def __init__(self, run: Path, engine, monitor: str | None, early: EarlyStopping | None):
        self.run, self.engine, self.monitor, self.early = run, engine, monitor, early
        self.suffix = WEIGHT_SUFFIX[engine.name]
        self.best: float | None = None
        self.rows: list[dict] = []

    def on_epoch_end(self, epoch, row):
        self.rows.append(row)
        weights = self.run / "weights"
        self.engine.save(weights / f"last{self.suffix}")
        value = row[self.monitor] if self.monitor else None
        if self.monitor is None or improved(value, self.best, self.monitor):
            self.best = value
            self.engine.save(weights / f"best{self.suffix}")
        self.engine.save_checkpoint(self.run / "checkpoint" / f"state{self.suffix}")
        write_history(self.run / "history.csv", self.rows)
        # Written last: it is the commit point a resumed run trusts.
        write_json(
            self.run / "checkpoint" / "progress.json",
            {
                "epochs_done": epoch,
                "best": self.best,
                "monitor": self.monitor,
                "early_stopping": self.early.state() if self.early else None,
                "stopped_early": bool(self.early and self.early.stop_training),
            },
        )

"""history.csv: one row per epoch, written after every epoch and read back on resume and in reports."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..fileio import atomic_write_text

HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")


def write_history(path: Path, rows: list[dict]) -> None:
    """history.csv: plain CSV with the columns epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HISTORY_COLUMNS)
    for r in rows:
        w.writerow([r["epoch"]] + [f"{r[c]:.6g}" for c in HISTORY_COLUMNS[1:]])
    atomic_write_text(path, buf.getvalue())


def read_history(path: Path) -> list[dict]:
    """Rows of a history.csv, numbers parsed."""
    with open(path, newline="") as fh:
        return [{"epoch": int(r["epoch"]), **{c: float(r[c]) for c in HISTORY_COLUMNS[1:]}} for r in csv.DictReader(fh)]

"""The per-epoch checkpoint of a run, committed atomically, and its reader for ``--resume``.

::

    run/checkpoint/epoch-0003/    everything epoch 3 left: state.<sfx> (weights and optimiser
                                  state; Keras adds optimizer.npz), last.<sfx>, best.<sfx>, history.csv
    run/checkpoint/progress.json  the commit record: that folder's name, the epochs done, the best
                                  value so far and the early-stopping state

Epoch N is written into ``checkpoint/.epoch-N.tmp/``, flushed to disk and renamed
``checkpoint/epoch-N``; then ``progress.json``, replaced atomically and written
last, names it.  A kill at any instant leaves epoch N-1 or epoch N committed,
never a mixture of the two.  Only then are ``weights/last``, ``weights/best``
and ``history.csv`` published from the committed folder (hard links swapped in
atomically) and older folders deleted.  A resumed run reads only the committed
folder and publishes it again, so a kill between commit and publication loses
nothing.

A run written before this layout (``checkpoint/state.*`` beside a
``progress.json`` that names no folder) still resumes from those files, as it
always did.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engines import WEIGHT_SUFFIX
from ..errors import ImgbenchError
from ..fileio import fsync_path, is_temporary, read_json, write_json, writing
from .callbacks import Callback, EarlyStopping, improved
from .history import read_history, write_history

PROGRESS = "progress.json"
_EPOCH_FOLDER = re.compile(r"epoch-\d{4,}")
# What os.link raises where a file system has no hard links (or no more of them): copy instead.
_NO_HARD_LINKS = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


class DamagedCheckpointError(ImgbenchError):
    """The committed checkpoint of a run cannot be read, so the run cannot be resumed."""


def _remove(path: Path) -> None:
    """Delete a file or a folder tree; a path that is not there is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _link(src: Path, dst: Path) -> None:
    """``dst`` becomes a hard link to ``src`` (a copy where the file system has no hard links)."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        shutil.copyfile(src, dst)
        fsync_path(dst)


def _link_into_place(src: Path, dst: Path) -> None:
    """Replace ``dst`` by ``src``'s content in one atomic step (a reader sees the old or the new file)."""
    with contextlib.suppress(FileNotFoundError):
        if os.path.samefile(src, dst):  # published already (and rename() would leave the temporary link behind)
            return
    tmp = dst.with_name(f".{dst.name}.link.tmp")
    with writing(dst):
        dst.parent.mkdir(parents=True, exist_ok=True)
        _remove(tmp)
        _link(src, tmp)
        os.replace(tmp, dst)


@dataclass(frozen=True)
class Checkpoint:
    """A committed epoch of a run: where its files are and what its progress record says."""

    run: Path
    progress: dict[str, Any]
    state: Path  # what engine.save_checkpoint wrote
    last: Path
    best: Path
    history: Path
    folder: Path | None  # None: a run written before epochs were committed as folders

    @property
    def epochs_done(self) -> int:
        return int(self.progress["epochs_done"])

    def rows(self) -> list[dict]:
        """The history rows of the committed epochs."""
        try:
            rows = read_history(self.history)[: self.epochs_done]
        except (OSError, ValueError, KeyError, TypeError, csv.Error) as exc:
            raise DamagedCheckpointError(f"{self.history}: cannot read the history ({exc})") from None
        if len(rows) != self.epochs_done:
            raise DamagedCheckpointError(f"{self.history}: {len(rows)} epochs of history, {self.epochs_done} done")
        return rows

    def publish(self) -> None:
        """``weights/last``, ``weights/best`` and ``history.csv`` of the run, from this checkpoint."""
        if self.folder is None:  # the old layout keeps those files in place
            return
        for src, dst in (
            (self.last, self.run / "weights" / self.last.name),
            (self.best, self.run / "weights" / self.best.name),
            (self.history, self.run / "history.csv"),
        ):
            _link_into_place(src, dst)


def read_checkpoint(run: Path, engine_name: str) -> Checkpoint | None:
    """The committed checkpoint of ``run``, or None when no epoch has been committed yet.

    A damaged progress record, or a committed folder with a file missing, is a
    :class:`DamagedCheckpointError` naming the file.
    """
    path = run / "checkpoint" / PROGRESS
    if not path.exists():
        return None
    try:
        progress = read_json(path)
    except ImgbenchError as exc:
        raise DamagedCheckpointError(str(exc)) from None
    if not isinstance(progress, dict) or not isinstance(progress.get("epochs_done"), int):
        raise DamagedCheckpointError(f"{path}: not a progress record (no epochs_done)")
    suffix = WEIGHT_SUFFIX[engine_name]
    name = progress.get("folder")
    if name is None:
        ckpt = Checkpoint(
            run,
            progress,
            run / "checkpoint" / f"state{suffix}",
            run / "weights" / f"last{suffix}",
            run / "weights" / f"best{suffix}",
            run / "history.csv",
            None,
        )
    elif not (isinstance(name, str) and _EPOCH_FOLDER.fullmatch(name)):
        raise DamagedCheckpointError(f"{path}: names no epoch folder ({name!r})")
    else:
        folder = run / "checkpoint" / name
        ckpt = Checkpoint(
            run,
            progress,
            folder / f"state{suffix}",
            folder / f"last{suffix}",
            folder / f"best{suffix}",
            folder / "history.csv",
            folder,
        )
    for file in (ckpt.state, ckpt.last, ckpt.best, ckpt.history):
        if not file.is_file():
            raise DamagedCheckpointError(f"{file}: missing from the committed checkpoint ({path})")
    return ckpt


def discard_uncommitted(run: Path, committed: Checkpoint | None) -> None:
    """Delete what a killed writer left: epoch folders not committed, unfinished folders, temporary files."""
    ckpt = run / "checkpoint"
    if committed is not None and committed.folder is not None:
        _prune(ckpt, keep={PROGRESS, committed.folder.name})
    elif ckpt.is_dir():  # keep the files of the old layout
        for entry in ckpt.iterdir():
            if _EPOCH_FOLDER.fullmatch(entry.name) or is_temporary(entry.name):
                _remove(entry)
    for folder in (run, run / "weights", run / "plots"):
        if folder.is_dir():
            for entry in folder.iterdir():
                if is_temporary(entry.name):
                    _remove(entry)


def _prune(ckpt: Path, keep: set[str]) -> None:
    """Delete everything in ``checkpoint/`` but ``keep``: older epochs, leftovers, files of the old layout."""
    for entry in ckpt.iterdir():
        if entry.name not in keep:
            _remove(entry)


class RunWriter(Callback):
    """After every epoch: commit the epoch's checkpoint, then publish weights/last, weights/best, history.csv."""

    def __init__(self, run: Path, engine, monitor: str | None, early: EarlyStopping | None):
        self.run, self.engine, self.monitor, self.early = run, engine, monitor, early
        self.suffix = WEIGHT_SUFFIX[engine.name]
        self.best: float | None = None
        self.best_file: Path | None = None  # the committed file that holds the best weights so far
        self.rows: list[dict] = []

    def restore(self, ckpt: Checkpoint) -> None:
        """Continue after the committed epoch ``ckpt``: its history rows, best value and early-stopping state."""
        self.rows, self.best, self.best_file = ckpt.rows(), ckpt.progress.get("best"), ckpt.best
        if self.early and ckpt.progress.get("early_stopping"):
            self.early.restore(ckpt.progress["early_stopping"])

    def on_epoch_end(self, epoch, row):
        rows = [*self.rows, row]
        value = row[self.monitor] if self.monitor else None
        better = self.monitor is None or improved(value, self.best, self.monitor)
        best = value if better else self.best
        ckpt = self.run / "checkpoint"
        folder = ckpt / f"epoch-{epoch:04d}"
        self._write_epoch(folder, rows, better)
        progress = {
            "folder": folder.name,
            "epochs_done": epoch,
            "best": best,
            "monitor": self.monitor,
            "early_stopping": self.early.state() if self.early else None,
            "stopped_early": bool(self.early and self.early.stop_training),
        }
        write_json(ckpt / PROGRESS, progress)  # the commit point: epoch `epoch` is now what a resume sees
        with writing(ckpt):
            fsync_path(ckpt)
        self.rows, self.best, self.best_file = rows, best, folder / f"best{self.suffix}"
        committed = Checkpoint(
            self.run,
            progress,
            folder / f"state{self.suffix}",
            folder / f"last{self.suffix}",
            self.best_file,
            folder / "history.csv",
            folder,
        )
        committed.publish()
        with writing(ckpt):
            _prune(ckpt, keep={PROGRESS, folder.name})

    def _write_epoch(self, folder: Path, rows: list[dict], better: bool) -> None:
        """Every file of one epoch, in a temporary folder renamed to ``folder`` once all are on disk."""
        tmp = folder.with_name(f".{folder.name}.tmp")
        with writing(tmp):
            _remove(tmp)  # left by a killed attempt at this epoch
            tmp.mkdir(parents=True)
        try:
            with writing(tmp):
                self.engine.save_checkpoint(tmp / f"state{self.suffix}")
                self.engine.save(tmp / f"last{self.suffix}")
                if self.monitor is None:  # the last epoch's weights are the kept ones: one file, two names
                    _link(tmp / f"last{self.suffix}", tmp / f"best{self.suffix}")
                elif better or self.best_file is None:
                    self.engine.save(tmp / f"best{self.suffix}")
                else:  # unchanged since an earlier epoch: share its file
                    _link(self.best_file, tmp / f"best{self.suffix}")
                write_history(tmp / "history.csv", rows)
                for file in tmp.iterdir():
                    fsync_path(file)
                fsync_path(tmp)
                _remove(folder)  # renamed but never committed by a killed attempt
                os.rename(tmp, folder)
        except BaseException:
            with contextlib.suppress(OSError):
                _remove(tmp)
            raise

"""A SQLite index over run directories (``<runs_dir>/index.sqlite``).

The run directories are the source of truth: a row is only a summary of one
directory's config.yaml and metrics.json, and :meth:`RunIndex.reindex`
rebuilds the whole table from the directories.  The database runs in WAL
mode, so readers never block the writer, and every write is one short
``BEGIN IMMEDIATE`` transaction, so concurrent study workers take turns.

Queries work where nothing can be written: in a read-only folder the index is
opened read-only and immutable (WAL needs a writable folder), and with no
usable index file the rows are read from the run directories.  Damaged runs
(see :mod:`imgbench.runs.health`) are left out, with a warning.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
import warnings
from pathlib import Path

from ..errors import ImgbenchError
from ..fileio import read_json, read_yaml
from .health import DAMAGED, FINISHED, MISSING, run_state
from .lock import run_lock

INDEX_NAME = "index.sqlite"

COLUMNS = (
    "name",
    "dataset",
    "model",
    "engine",
    "seed",
    "study",
    "status",
    "accuracy",
    "f1_macro",
    "param_count",
    "training_seconds",
    "epochs",
    "created",
    "indexed",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,          -- the directory's name inside the runs directory
    dataset TEXT, model TEXT, engine TEXT, seed INTEGER, study TEXT,
    status TEXT,                    -- finished | incomplete
    accuracy REAL, f1_macro REAL, param_count INTEGER, training_seconds REAL, epochs INTEGER,
    created REAL, indexed REAL
);
CREATE INDEX IF NOT EXISTS runs_by_study ON runs (study);
"""


def summarize_run(run: Path) -> dict:
    """The index row of one run directory (read from its files only); a damaged run is an ImgbenchError.

    Damaged: files unreadable or missing (see :func:`~imgbench.runs.health.run_state`), even where a
    committed checkpoint would let the run be resumed.
    """
    state = run_state(run)
    if state.problem or state.status in (DAMAGED, MISSING):
        raise ImgbenchError(state.problem or f"{run}: no such run directory")
    config = read_yaml(run / "config.yaml", "run config")
    m = read_json(run / "metrics.json") if state.status == FINISHED else {}
    spec = config.get("spec") or {}
    return {
        "name": run.name,
        "dataset": m.get("dataset", config.get("dataset")),
        "model": spec.get("name", config.get("model")),
        "engine": config.get("engine"),
        "seed": (config.get("train") or {}).get("seed"),
        "study": config.get("study"),
        "status": "finished" if m else "incomplete",
        "accuracy": m.get("accuracy"),
        "f1_macro": m.get("f1_macro"),
        "param_count": m.get("param_count"),
        "training_seconds": m.get("training_seconds"),
        "epochs": m.get("epochs_trained"),
        "created": (run / "config.yaml").stat().st_mtime,
        "indexed": time.time(),
    }


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and (path / "config.yaml").is_file()


def directory_rows(runs_dir: Path) -> list[dict]:
    """The index rows of every run directory in ``runs_dir``; each damaged run is left out with a warning."""
    rows = []
    for path in sorted(runs_dir.iterdir()) if runs_dir.is_dir() else []:
        if is_run_dir(path):
            try:
                rows.append(summarize_run(path))
            except ImgbenchError as exc:
                warnings.warn(f"left out of the index: {exc}", stacklevel=2)
    return rows


class RunIndex:
    """The index of one runs directory."""

    def __init__(self, runs_dir: str | Path):
        self.runs_dir = Path(runs_dir)
        self.path = self.runs_dir / INDEX_NAME

    def writable(self) -> bool:
        """Can the index be written here (the folder, and the index file if there is one)?"""
        return os.access(self.runs_dir, os.W_OK) and (not self.path.exists() or os.access(self.path, os.W_OK))

    def _connect(self) -> sqlite3.Connection:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit, so each write is exactly one BEGIN IMMEDIATE.
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA busy_timeout=60000")
        con.executescript(_SCHEMA)
        return con

    def _write(self, sql_rows: list[tuple[str, tuple]]) -> None:
        """One transaction; a full disk, a read-only folder or a lock held too long is an ImgbenchError."""
        try:
            con = self._connect()
        except sqlite3.OperationalError as exc:
            raise ImgbenchError(f"{self.path}: cannot write the run index ({exc})") from None
        try:
            con.execute("BEGIN IMMEDIATE")  # take the write lock now, not half-way through
            for sql, params in sql_rows:
                con.execute(sql, params)
            con.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise ImgbenchError(f"{self.path}: cannot write the run index ({exc})") from None
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    @staticmethod
    def _upsert(row: dict) -> tuple[str, tuple]:
        names = ", ".join(COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        return f"INSERT OR REPLACE INTO runs ({names}) VALUES ({marks})", tuple(row[c] for c in COLUMNS)

    def add(self, run: str | Path) -> dict:
        """Index (or re-index) one run directory inside this runs directory."""
        run = Path(run)
        if run.resolve().parent != self.runs_dir.resolve():
            raise ImgbenchError(f"{run}: not inside the runs directory {self.runs_dir}")
        row = summarize_run(run)
        self._write([self._upsert(row)])
        return row

    def reindex(self) -> int:
        """Rebuild the table from the run directories (damaged runs left out); returns how many runs it holds."""
        rows = directory_rows(self.runs_dir)
        self._write([("DELETE FROM runs", ())] + [self._upsert(r) for r in rows])
        return len(rows)

    def _query(self, sql: str, params: list) -> list[dict]:
        """Rows of a query on the index file, or on the run directories when that file is missing or unreadable.

        A read-only folder whose index has un-checkpointed WAL pages is read from the directories too: an
        immutable connection would not see those pages.
        """
        wal = self.path.with_name(self.path.name + "-wal")
        pending = not self.writable() and wal.exists() and wal.stat().st_size > 0
        if self.path.exists() and not pending:
            try:
                return _rows(self._connect() if self.writable() else self._connect_read_only(), sql, params)
            except sqlite3.Error as exc:
                warnings.warn(f"{self.path}: cannot be read ({exc}); reading the run directories", stacklevel=3)
        scanned = sqlite3.connect(":memory:")
        scanned.executescript(_SCHEMA)
        for row in directory_rows(self.runs_dir):
            scanned.execute(*self._upsert(row))
        return _rows(scanned, sql, params)

    def _connect_read_only(self) -> sqlite3.Connection:
        """The index file opened read-only and immutable: no WAL, no shared memory file, nothing written."""
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)

    def list(
        self,
        *,
        dataset: str | None = None,
        model: str | None = None,
        engine: str | None = None,
        study: str | None = None,
        status: str | None = None,
    ) -> list[dict]:
        """Rows matching every given filter, oldest first (``dataset`` matches a substring)."""
        where, params = [], []
        for col, value in (("model", model), ("engine", engine), ("study", study), ("status", status)):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        if dataset is not None:
            where.append("dataset LIKE ?")
            params.append(f"%{dataset}%")
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created, name"
        return self._query(sql, params)

    def get(self, name: str) -> dict | None:
        """The row of the run ``name``, or None."""
        rows = self._query("SELECT * FROM runs WHERE name = ?", [name])
        return rows[0] if rows else None

    def remove(self, name: str) -> Path:
        """Delete a run directory and its row; a run another process is writing is refused."""
        run = self.runs_dir / name
        if "/" in name or name in ("", ".", "..") or not is_run_dir(run):
            raise ImgbenchError(f"{run}: no such run directory (expected a folder with config.yaml)")
        with run_lock(self.runs_dir, name):
            shutil.rmtree(run)
        self._write([("DELETE FROM runs WHERE name = ?", (name,))])
        return run


_INDEX_HERE = True  # False in a process that trains for a driver on another host; the driver indexes


def leave_indexing_to_the_driver() -> None:
    """This process trains runs for a driver that may be on another host (a Ray task): it must not write the
    SQLite run index, whose write-ahead log needs every writer on one host; the driver reindexes instead."""
    global _INDEX_HERE
    _INDEX_HERE = False


def index_finished_run(run: Path) -> None:
    """Record a run that just finished in its runs directory's index (the directory stays the source of truth);
    a failure warns, since 'imgbench runs reindex' repairs it, and never fails the run."""
    if not _INDEX_HERE:
        return
    try:
        RunIndex(run.parent).add(run)
    except (sqlite3.Error, OSError, ImgbenchError) as exc:
        warnings.warn(f"{run}: not added to the run index ({exc}); 'imgbench runs reindex' adds it", stacklevel=2)


def _rows(con: sqlite3.Connection, sql: str, params: list) -> list[dict]:
    """Every row of ``sql`` as a dict; closes the connection."""
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, params)]
    finally:
        con.close()

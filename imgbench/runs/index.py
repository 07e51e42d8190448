"""A SQLite index over run directories (``<runs_dir>/index.sqlite``).

The run directories are the source of truth: a row is only a summary of one
directory's config.yaml and metrics.json, and :meth:`RunIndex.reindex`
rebuilds the whole table from the directories.  The database runs in WAL
mode, so readers never block the writer, and every write is one short
``BEGIN IMMEDIATE`` transaction, so concurrent study workers take turns.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

from ..errors import ImgbenchError
from ..fileio import read_json, read_yaml

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
    """The index row of one run directory (read from its files only)."""
    config = read_yaml(run / "config.yaml", "run config")
    metrics_path = run / "metrics.json"
    m = read_json(metrics_path) if metrics_path.exists() else {}
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


class RunIndex:
    """The index of one runs directory."""

    def __init__(self, runs_dir: str | Path):
        self.runs_dir = Path(runs_dir)
        self.path = self.runs_dir / INDEX_NAME

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
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")  # take the write lock now, not half-way through
            for sql, params in sql_rows:
                con.execute(sql, params)
            con.execute("COMMIT")
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
        """Rebuild the table from the run directories; returns how many runs it holds."""
        rows = (
            [summarize_run(p) for p in sorted(self.runs_dir.iterdir()) if is_run_dir(p)]
            if self.runs_dir.is_dir()
            else []
        )
        self._write([("DELETE FROM runs", ())] + [self._upsert(r) for r in rows])
        return len(rows)

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
        con = self._connect()
        try:
            return [dict(r) for r in con.execute(sql, params)]
        finally:
            con.close()

    def get(self, name: str) -> dict | None:
        con = self._connect()
        try:
            row = con.execute("SELECT * FROM runs WHERE name = ?", (name,)).fetchone()
            return dict(row) if row else None
        finally:
            con.close()

    def remove(self, name: str) -> Path:
        """Delete a run directory and its row."""
        run = self.runs_dir / name
        if "/" in name or name in ("", ".", "..") or not is_run_dir(run):
            raise ImgbenchError(f"{run}: no such run directory (expected a folder with config.yaml)")
        shutil.rmtree(run)
        self._write([("DELETE FROM runs WHERE name = ?", (name,))])
        return run

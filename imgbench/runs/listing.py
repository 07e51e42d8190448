"""What ``imgbench runs`` shows: a runs directory's index, opened only where the directory exists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import ImgbenchError
from ..fileio import read_json
from .index import RunIndex


def open_index(runs_dir: str | Path) -> RunIndex:
    """The index of an existing runs directory (opening one would otherwise create the directory)."""
    index = RunIndex(runs_dir)
    if not index.runs_dir.is_dir():
        raise ImgbenchError(f"{index.runs_dir}: no such runs directory (pass --runs-dir DIR)")
    return index


def list_runs(runs_dir: str | Path, **filters: str | None) -> list[dict]:
    """Index rows matching ``filters`` (see :meth:`RunIndex.list`); a directory never indexed is indexed first.

    A read-only directory is listed without writing anything (see :class:`RunIndex`).
    """
    index = open_index(runs_dir)
    if not index.path.exists() and index.writable():
        index.reindex()
    return index.list(**filters)


def show_run(runs_dir: str | Path, name: str, with_metrics: bool = False) -> dict:
    """One run's index row and its directory; with ``with_metrics``, its metrics.json too (None if unfinished)."""
    index = open_index(runs_dir)
    row = index.get(name)
    if row is None:
        raise ImgbenchError(f"no run '{name}' in {index.path} (try 'imgbench runs reindex')")
    shown = {"row": row, "directory": index.runs_dir / name}
    if with_metrics:
        metrics_path = index.runs_dir / name / "metrics.json"
        shown["metrics"] = read_json(metrics_path) if metrics_path.exists() else None
    return shown


def remove_runs(runs_dir: str | Path, names: list[str]) -> Iterator[Path]:
    """Delete run directories and their index rows, one at a time, yielding each directory once it is gone."""
    index = open_index(runs_dir)
    for name in names:
        yield index.remove(name)


def reindex_runs(runs_dir: str | Path) -> tuple[Path, int]:
    """Rebuild the index from the run directories; returns the index file and how many runs it holds."""
    index = open_index(runs_dir)
    return index.path, index.reindex()

"""Which files the server may open: run and report paths resolved strictly inside their folders.

A name from a URL is never joined to a folder as it is.  It must be a relative path with no ``..``
part, and after every symlink is resolved it must still lie inside the folder; anything else is
"not found" (the same answer as a name that does not exist, so nothing is learnt by probing).
"""

from __future__ import annotations

import warnings
from pathlib import Path, PurePosixPath

from ..errors import ImgbenchError
from ..runs.index import is_run_dir, summarize_run


class NotFound(ImgbenchError):
    """A run, report or file the server does not have (answered 404)."""


def resolve_inside(folder: Path, relative: str) -> Path:
    """``folder / relative`` with symlinks resolved, when that exists and lies inside ``folder``; else NotFound."""
    parts = PurePosixPath(relative).parts
    # Backslashes and NUL bytes are no part of a name this server hands out; reject rather than interpret them.
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts or "\\" in relative or "\0" in relative:
        raise NotFound(f"no such file: {relative!r}")
    root = folder.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.exists():
        raise NotFound(f"no such file: {relative!r}")
    return target


class RunCatalog:
    """The runs the server shows: the run directories given by name, or every run in one runs directory.

    A run is known by its directory's name.  With a runs directory, a name is looked up inside that folder
    each time (runs trained while the server is up appear); with run directories given one by one, only
    those names exist.
    """

    def __init__(self, run_dirs: list[str | Path] | None = None, runs_dir: str | Path | None = None):
        if bool(run_dirs) == (runs_dir is not None):
            raise ImgbenchError("give run directories or one runs directory (--runs-dir), not both and not neither")
        self.runs_dir = Path(runs_dir).resolve() if runs_dir is not None else None
        self.fixed: dict[str, Path] = {}
        if self.runs_dir is not None and not self.runs_dir.is_dir():
            raise ImgbenchError(f"{runs_dir}: no such runs directory")
        for given in run_dirs or []:
            path = Path(given).resolve()
            if not is_run_dir(path):
                raise ImgbenchError(f"{given}: not a run directory (no config.yaml)")
            if path.name in self.fixed and self.fixed[path.name] != path:
                raise ImgbenchError(f"two runs are named '{path.name}': {self.fixed[path.name]} and {path}; rename one")
            self.fixed[path.name] = path

    def names(self) -> list[str]:
        """The names of the runs, sorted."""
        if self.runs_dir is None:
            return sorted(self.fixed)
        return sorted(p.name for p in self.runs_dir.iterdir() if self._inside(p.name))

    def _inside(self, name: str) -> bool:
        try:
            self.path(name)
        except NotFound:
            return False
        return True

    def path(self, name: str) -> Path:
        """The run directory of ``name``; NotFound for a name that is no run here (or points outside)."""
        if self.runs_dir is None:
            if name not in self.fixed:
                raise NotFound(f"no run named {name!r}")
            return self.fixed[name]
        try:
            if "/" in name:  # a run is one folder of the runs directory, never a path into one
                raise NotFound(name)
            path = resolve_inside(self.runs_dir, name)
            if not is_run_dir(path):
                raise NotFound(name)
        except NotFound:
            raise NotFound(f"no run named {name!r}") from None
        return path

    def rows(self) -> list[dict]:
        """The index row of every intact run (see :func:`~imgbench.runs.index.summarize_run`), by name."""
        rows = []
        for name in self.names():
            try:
                row = summarize_run(self.path(name))
            except ImgbenchError as exc:  # a damaged run is left out of the list, as `runs list` does
                warnings.warn(f"not served: {exc}", stacklevel=2)
                continue
            rows.append({**row, "name": name})
        return rows


def study_reports(studies: Path | None) -> list[dict]:
    """Each study folder directly inside ``studies`` (or ``studies`` itself) with a report.html or report.md."""
    if studies is None:
        return []
    root = studies.resolve()
    folders = [root, *sorted(p for p in root.iterdir() if p.is_dir())] if root.is_dir() else []
    found = []
    for folder in folders:
        relative = "" if folder == root else folder.name
        try:
            if relative:
                resolve_inside(root, relative)  # a symlink out of the studies folder is not served
        except NotFound:
            continue
        files = [name for name in ("report.html", "report.md") if (folder / name).is_file()]
        if files:
            found.append({"name": relative or root.name, "files": [f"{relative}/{f}".lstrip("/") for f in files]})
    return found

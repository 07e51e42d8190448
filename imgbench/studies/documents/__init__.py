"""The report's formats: one registry entry per ``--format``, each written from the one report context.

Every format is rendered from the context :func:`imgbench.studies.report.build_context` builds (the records,
tables and figures of the report), never from another format's output: ``html`` and ``md`` through their
Jinja2 templates, ``pdf`` by printing the HTML page in headless Chromium (:mod:`.pdf`), ``docx`` with
python-docx (:mod:`.word`) and ``tex`` as booktabs tables (:mod:`.latex`).  A format that needs an optional
package says so in :attr:`ReportFormat.modules`; :func:`write_documents` writes every format it can and then
names, in one error, those it could not.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ImgbenchError
from ...fileio import atomic_write_text
from ..report_render import render_html, render_markdown
from . import latex, pdf, word

ASSETS = "report_files"
"""The folder beside the report that holds its figures (and the LaTeX tables, in ``tables/``)."""


@dataclass(frozen=True)
class ReportFormat:
    """How one format of the report is written, and what it needs besides imgbench's own dependencies."""

    write: Callable[[dict, Path], list[Path]]
    """``write(context, out)`` writes the format into the folder ``out`` and returns the files written."""
    modules: Mapping[str, str] = field(default_factory=dict)
    """The optional modules it imports, each with the package that provides it (``{"docx": "python-docx"}``)."""
    extra: str = ""
    """The imgbench extra that installs those packages."""
    programs: Callable[[], tuple[str, str] | None] = lambda: None
    """``(what is missing, how to install it)`` for a program it runs, or None when the programs are here."""

    def missing(self) -> tuple[str, str] | None:
        """``(what is missing, how to install it)`` on this machine, or None when the format can be written."""
        absent = []
        for module, package in self.modules.items():
            try:
                importlib.import_module(module)
            except ImportError:
                absent.append(package)
        if absent:
            verb = "is" if len(absent) == 1 else "are"
            return f"{' and '.join(absent)} {verb} not installed", f"pip install 'imgbench[{self.extra}]'"
        return self.programs()


def _html(context: dict, out: Path) -> list[Path]:
    path = out / "report.html"
    atomic_write_text(path, render_html(context))
    return [path]


def _markdown(context: dict, out: Path) -> list[Path]:
    path = out / "report.md"
    atomic_write_text(path, render_markdown(context))
    return [path]


REPORT_FORMATS: dict[str, ReportFormat] = {
    "html": ReportFormat(_html),
    "md": ReportFormat(_markdown),
    "pdf": ReportFormat(pdf.write_pdf, {"playwright.sync_api": "playwright"}, "documents", pdf.no_chromium),
    "docx": ReportFormat(word.write_docx, {"docx": "python-docx"}, "documents"),
    "tex": ReportFormat(lambda context, out: latex.write_tables(context, out / ASSETS / "tables")),
}
"""Every format of the report by its ``--format`` name (the CLI's choices come from here)."""


def write_documents(context: dict, out: Path, formats: Iterable[str]) -> list[Path]:
    """Write the report into ``out`` in each of ``formats``; returns the files written.

    A format whose optional package or program is missing, or whose writer fails with an
    :class:`ImgbenchError`, is left out while the others are written; then one ImgbenchError names every
    format left out, why, and what to install.
    """
    written: list[Path] = []
    left_out: list[str] = []
    problems: dict[str, list[str]] = {}  # how to fix it -> "format: what went wrong", so each fix is named once
    for name in dict.fromkeys(formats):
        fmt = REPORT_FORMATS[name]
        problem = fmt.missing()
        if problem is None:
            try:
                written += fmt.write(context, out)
                continue
            except ImgbenchError as exc:  # Chromium failed to start, say: the other formats are still written
                problem = (str(exc), "")
        left_out.append(name)
        problems.setdefault(problem[1], []).append(f"{name}: {problem[0]}")
    if left_out:
        why = "; ".join(", ".join(items) + (f" ({fix})" if fix else "") for fix, items in problems.items())
        done = f"; written: {', '.join(map(str, written))}" if written else ""
        raise ImgbenchError(f"the report was not written as {', '.join(left_out)}: {why}{done}")
    return written

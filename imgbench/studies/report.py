"""The comparative report, built only from run directories: ``report.html`` (self-contained), ``report.md`` and,
on request, ``report.pdf``, ``report.docx`` and LaTeX tables (:mod:`.documents`).

For each dataset: a summary table (mean ± std over seeds and a 95% interval
of the expected accuracy over seeds x test images, its method and n in the
caption), inference and epoch timings with their spread, the classic study's
reported figures beside ours, overlaid learning curves, per-class F1,
accuracy against parameters and training time, every pair of models compared
over all their seeds (difference and P(improvement) with intervals, Holm's
decision, per-seed McNemar tests, a sentence each), the smallest difference
the study could detect, confusion matrices and the most confident mistakes.
Then the environment of the runs and the command that reproduces them.

Reading the runs is in :mod:`.report_records`, the statistics in
:mod:`.report_tables`, the figures in :mod:`.report_figures`; the two
templates are rendered by :mod:`.report_render`, and every format is written
from the one context :func:`build_context` makes by :mod:`.documents`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from ..errors import ImgbenchError
from ..fileio import read_yaml
from ..options import COMMAND_OPTIONS
from .documents import ASSETS, write_documents
from .report_figures import Figures, confusion_figures, mistakes_figure, summary_figures
from .report_records import Group, environments, git_revisions, group_runs, load_records, run_rows
from .report_tables import (
    MCNEMAR_CAPTION,
    SUMMARY_CAPTION,
    TIMING_CAPTION,
    few_seeds,
    group_correctness,
    pairwise,
    pairwise_captions,
    per_class_f1,
    power_line,
    reported_beside_ours,
    reported_caption,
    summarize_group,
    summary_captions,
    timing_row,
)
from .studyfile import Study, parse_study


def dataset_section(dataset: str, groups: list[Group], study: Study | None, figs: Figures) -> dict:
    """Tables, comparisons and figures of one dataset."""
    correct, notes = group_correctness(groups)
    rows = [summarize_group(g, correct.get(g.label)) for g in groups]
    comparisons, test_set_notes = pairwise(groups, correct)
    class_names = groups[0].runs[0].metrics["class_names"]
    f1 = per_class_f1(groups, class_names)
    figures = summary_figures(figs, dataset, groups, rows, f1, comparisons)
    confusion = confusion_figures(figs, dataset, groups)
    mistakes, mistakes_note = mistakes_figure(figs, dataset, groups, rows)
    return {
        "name": dataset,
        "notes": notes + test_set_notes,
        "warnings": few_seeds(groups),
        "rows": rows,
        "summary_caption": SUMMARY_CAPTION,
        "summary_captions": summary_captions(rows),
        "timings": [timing_row(g) for g in groups],
        "timing_caption": TIMING_CAPTION,
        "reported": reported_beside_ours(study, dataset, rows),
        "figures": figures,
        "confusion": confusion,
        "comparisons": comparisons,
        "comparison_captions": pairwise_captions(comparisons) if comparisons else [],
        "power": power_line(comparisons),
        "mcnemar_caption": MCNEMAR_CAPTION,
        "mistakes": mistakes,
        "mistakes_note": mistakes_note,
        "class_names": class_names,
        "per_class_f1": {c: {label: values[i] for label, values in f1.items()} for i, c in enumerate(class_names)},
        "labels": [g.label for g in groups],
    }


def build_context(run_dirs, figs_dir: Path, study: Study | None = None, notes=(), command: str | None = None) -> dict:
    """Everything the templates show."""
    records, skipped = load_records(run_dirs)
    figs = Figures(figs_dir)
    sections = [dataset_section(d, groups, study, figs) for d, groups in group_runs(records).items()]
    reproduce = command or "\n".join(f"imgbench train --config {r.path / 'config.yaml'}" for r in records)
    return {
        "title": f"imgbench study: {study.name}" if study else "imgbench report",
        "study_name": study.name if study else None,
        "description": study.description if study else "",
        "reported_source": (study.reported or {}).get("source") if study else None,
        "reported_caption": reported_caption(study),
        "generated": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "sections": sections,
        "notes": list(notes) + list(study.notes if study else []) + skipped,
        "environments": environments(records),
        "revisions": git_revisions(records),
        "command": reproduce,
        "runs": run_rows(records),
    }


def write_report(
    run_dirs,
    out: str | Path,
    study: Study | None = None,
    notes=(),
    command: str | None = None,
    formats: str | Iterable[str] | None = None,
) -> list[Path]:
    """Write the report into ``out`` in each of ``formats`` (default ``report.html`` and ``report.md``; the
    choices are :data:`~imgbench.studies.documents.REPORT_FORMATS`), its figures in ``report_files/``; returns
    the files written.

    A format that needs a package or a program missing here is left out while the others are written, then
    one :class:`ImgbenchError` names it and what to install.
    """
    option = COMMAND_OPTIONS["report_format"]
    given = option.default if formats is None else [formats] if isinstance(formats, str) else list(formats)
    chosen = option.check("formats", given)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    context = build_context(run_dirs, out / ASSETS, study, notes, command)
    return write_documents(context, out, chosen)


def report_study_dir(folder: str | Path, out: str | Path | None = None, formats: str | Iterable[str] | None = None):
    """The report of a study directory written by ``imgbench compare`` (into ``out``, default the study directory)."""
    folder = Path(folder)
    if not (folder / "study.yaml").exists():
        raise ImgbenchError(f"{folder}: not a study directory (no study.yaml)")
    record = read_yaml(folder / "study.yaml", "study record")
    study = parse_study(record.get("study"), str(folder / "study.yaml"))
    runs = [folder / "runs" / k for k in record.get("runs", [])]
    return write_report(
        runs, out or folder, study=study, notes=record.get("notes", []), command=record.get("command"), formats=formats
    )

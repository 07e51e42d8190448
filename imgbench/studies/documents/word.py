"""``report.docx``: the report as a Word document, written with python-docx from the report context.

Section titles use Word's Heading styles (so they appear in the navigation pane), the tables are Word tables
whose cells read exactly as in the HTML page (:mod:`.tables`), and every figure is an embedded PNG with a
numbered caption (a SEQ field, so Word can list the figures and tables).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...fileio import atomic_write
from . import tables
from .tables import TextTable

FONT_PT = {"table": 8, "code": 9}
FIGURE_WIDTH_CM = {"wide": 16.0, "grid": 7.8}


class _Writer:
    """A Word document being written, with its running figure and table numbers."""

    def __init__(self) -> None:
        import docx
        from docx.shared import Cm

        self.doc = docx.Document()
        section = self.doc.sections[0]
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)  # A4
        section.left_margin = section.right_margin = Cm(2.5)
        section.different_first_page_header_footer = True  # no page number on the title page
        footer = section.footer.paragraphs[0]
        footer.alignment = _align("center")
        _field(footer, "PAGE", "1")
        self.numbers = {"Figure": 0, "Table": 0}

    def heading(self, text: str, level: int) -> None:
        self.doc.add_heading(text, level)

    def paragraph(self, text: str, style: str | None = None) -> Any:
        return self.doc.add_paragraph(text, style=style)

    def caption(self, kind: str, text: str, where: Any = None) -> None:
        """``Figure 3: text`` in Word's Caption style; the number is a SEQ field that Word keeps in order."""
        self.numbers[kind] += 1
        p = (where or self.doc).add_paragraph(style="Caption")
        p.add_run(f"{kind} ")
        _field(p, f"SEQ {kind} \\* ARABIC", str(self.numbers[kind]))
        p.add_run(f": {text}")

    def table(self, t: TextTable, title: str, notes: Sequence[str] = ()) -> None:
        """A captioned Word table, header row repeated on every page, then its notes in small print."""
        from docx.shared import Pt

        self.caption("Table", title)
        table = self.doc.add_table(rows=1 + len(t.rows), cols=len(t.headers), style="Table Grid")
        for i, row in enumerate([t.headers, *t.rows]):
            for j, text in enumerate(row):
                p = table.rows[i].cells[j].paragraphs[0]
                p.alignment = _align("left" if j < t.names else "right")
                run = p.add_run(text)
                run.font.size = Pt(FONT_PT["table"])
                run.bold = i == 0 or (i - 1, j) in t.strong
        _repeat_header(table.rows[0])
        for note in notes:
            self.paragraph(note, "Caption")

    def figure(self, f: dict, width_cm: float, where: Any = None) -> None:
        """An embedded PNG of the report (decoded from the page's base64) with its numbered caption."""
        from docx.shared import Cm

        p = (where or self.doc).add_paragraph()
        p.add_run().add_picture(io.BytesIO(base64.b64decode(f["data"])), width=Cm(width_cm))
        self.caption("Figure", f["caption"], where)

    def figure_grid(self, figures: list[dict]) -> None:
        """Figures two to a row (the confusion matrices), in a table without borders."""
        grid = self.doc.add_table(rows=(len(figures) + 1) // 2, cols=2)
        for k, f in enumerate(figures):
            cell = grid.rows[k // 2].cells[k % 2]
            cell._element.remove(cell.paragraphs[0]._element)  # a new cell holds one empty paragraph
            self.figure(f, FIGURE_WIDTH_CM["grid"], cell)

    def code(self, text: str) -> None:
        """Monospaced lines (the command that reproduces the study)."""
        from docx.shared import Pt

        p = self.paragraph("")
        lines = text.splitlines()
        for i, line in enumerate(lines):
            run = p.add_run(line)
            run.font.name, run.font.size = "Courier New", Pt(FONT_PT["code"])
            if i < len(lines) - 1:
                run.add_break()


def _align(where: str) -> Any:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    return {"left": WD_ALIGN_PARAGRAPH.LEFT, "right": WD_ALIGN_PARAGRAPH.RIGHT, "center": WD_ALIGN_PARAGRAPH.CENTER}[
        where
    ]


def _field(paragraph: Any, instruction: str, shown: str) -> None:
    """A Word field (``PAGE``, ``SEQ Figure``) in ``paragraph``, showing ``shown`` until Word updates it."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), f" {instruction} ")
    run, text = OxmlElement("w:r"), OxmlElement("w:t")
    text.text = shown
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _repeat_header(row: Any) -> None:
    """Mark a table's first row as its header, repeated at the top of every page the table runs onto."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(header)


def _title_page(w: _Writer, context: dict) -> None:
    from docx.enum.text import WD_BREAK

    w.paragraph("imgbench study report", "Subtitle")
    w.paragraph(context["study_name"] or context["title"], "Title")
    if context["description"]:
        w.paragraph(context["description"])
    revisions = ", ".join(context["revisions"]) or "not recorded (not run from a git checkout)"
    for name, value in (("Date", context["generated"]), ("Git revision", revisions), ("Runs", len(context["runs"]))):
        p = w.paragraph("")
        p.add_run(f"{name}: ").bold = True
        p.add_run(str(value))
    w.paragraph("").add_run().add_break(WD_BREAK.PAGE)


def _comparisons(w: _Writer, s: dict) -> None:
    w.heading("Pairwise comparisons (every seed; McNemar per seed)", 2)
    w.table(tables.comparisons(s), f"{s['name']}: every pair of models over all seeds", s["comparison_captions"])
    for c in s["comparisons"]:
        w.paragraph(f"{c['sentence']}.", "List Bullet")
    if s["power"]:
        w.paragraph(s["power"])
    w.heading("McNemar's exact test of every seed pair", 3)
    w.table(tables.mcnemar(s), f"{s['name']}: McNemar's exact test of every seed pair", [s["mcnemar_caption"]])


def _dataset(w: _Writer, s: dict, context: dict) -> None:
    """One dataset's section, in the order of the HTML page."""
    w.heading(s["name"], 1)
    w.table(tables.summary(s), f"{s['name']}: summary", [s["summary_caption"], *s["summary_captions"]])
    for note in s["notes"]:
        w.paragraph(note, "Intense Quote")
    for warning in s["warnings"]:
        w.paragraph(f"Too few seeds: {warning}", "Intense Quote")
    w.heading("Timings", 2)
    w.table(tables.timings(s), f"{s['name']}: timings", [s["timing_caption"]])
    if s["reported"]:
        w.heading("Reported by the classic study, beside ours", 2)
        w.table(tables.reported(s), f"{s['name']}: the classic study's figures and ours", [context["reported_caption"]])
    w.heading("Figures", 2)
    for f in s["figures"]:
        w.figure(f, FIGURE_WIDTH_CM["wide"])
    if s["comparisons"]:
        _comparisons(w, s)
    w.heading("Per-class F1", 2)
    w.table(tables.per_class_f1(s), f"{s['name']}: F1 score of every class")
    w.heading("Confusion matrices", 2)
    w.figure_grid(s["confusion"])
    w.heading("Most confident mistakes", 2)
    if s["mistakes"]:
        w.figure(s["mistakes"], FIGURE_WIDTH_CM["wide"])
    else:
        w.paragraph(s["mistakes_note"])


def write_docx(context: dict, out: Path) -> list[Path]:
    """Write ``out/report.docx``; returns its path."""
    w = _Writer()
    _title_page(w, context)
    for note in context["notes"]:
        w.paragraph(note, "Intense Quote")
    for s in context["sections"]:
        _dataset(w, s, context)
    w.heading("Runs", 1)
    w.table(tables.runs(context), "every run of the report")
    w.heading("Environment", 1)
    for env in context["environments"]:
        w.table(tables.environment(env), "the environment of the runs")
    w.heading("Reproduce", 1)
    w.code(context["command"])
    path = out / "report.docx"
    with atomic_write(path) as fh:
        w.doc.save(fh)
    return [path]

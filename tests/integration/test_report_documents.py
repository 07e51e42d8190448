"""`imgbench report|compare --format`: the quick study's report as PDF, Word and LaTeX tables, read back.

Tests that need Chromium, poppler (pdftotext, pdftoppm), pdflatex or python-docx skip where it is missing, unless
IMGBENCH_REQUIRE_DOCUMENT_TOOLS=1 (CI), where they fail instead.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from imgbench.errors import ImgbenchError
from imgbench.studies.documents.pdf import system_chromium
from imgbench.studies.report import write_report

from .test_cli_data import assert_clean_error, run_cli

REQUIRED = os.environ.get("IMGBENCH_REQUIRE_DOCUMENT_TOOLS") == "1"
# What the tests of each format need: (programs, Python modules).
NEEDS = {
    "pdf": (["pdftotext", "pdftoppm", "pdfinfo"], ["playwright"]),
    "docx": ([], ["docx"]),
    "tex": (["pdflatex"], []),
}
MINIMAL_DOCUMENT = (
    "\\documentclass{{article}}\n\\usepackage{{booktabs}}\n\\usepackage{{siunitx}}\n"
    "\\begin{{document}}\n\\input{{{table}}}\n\\end{{document}}\n"
)


def _missing(fmt: str) -> list[str]:
    programs, modules = NEEDS[fmt]
    missing = [p for p in programs if shutil.which(p) is None] + [m for m in modules if not importlib.util.find_spec(m)]
    return missing + (["chromium"] if fmt == "pdf" and system_chromium() is None else [])


def need(fmt: str) -> None:
    """Skip the test when what ``fmt`` needs is not installed; fail instead under IMGBENCH_REQUIRE_DOCUMENT_TOOLS=1."""
    missing = _missing(fmt)
    if missing and REQUIRED:
        pytest.fail(f"IMGBENCH_REQUIRE_DOCUMENT_TOOLS is set but {', '.join(missing)} is not installed")
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install chromium poppler-utils texlive-science)")


@pytest.fixture(scope="module")
def documents(quick_study, tmp_path_factory):  # noqa: F811
    """`imgbench report --study --format ...` of the quick study, once, in every format that can be written here."""
    study, _, _ = quick_study
    out = tmp_path_factory.mktemp("documents")
    formats = ["html", "md", "tex"] + [f for f in ("docx", "pdf") if REQUIRED or not _missing(f)]
    proc = run_cli("report", "--study", study, "--out", out, "--format", ",".join(formats))
    assert proc.returncode == 0, proc.stderr
    assert {line.rsplit("/", 1)[-1] for line in proc.stdout.split()} >= {
        "report.html",
        "report.md",
        "digits-summary.tex",
        "digits-comparisons.tex",
        *(f"report.{f}" for f in formats if f != "tex"),
    }
    return out


def _summary_rows(page: str) -> list[list[str]]:
    """The cells of the HTML page's summary table of digits (the first table after its heading)."""
    table = page.split('<h2 id="digits"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]


def test_pdf_holds_every_model_and_the_summary_accuracies(documents, quick_study, tmp_path):  # noqa: F811
    need("pdf")
    pdf = documents / "report.pdf"
    text = " ".join(subprocess.run(["pdftotext", pdf, "-"], capture_output=True, text=True, check=True).stdout.split())
    rows = _summary_rows((documents / "report.html").read_text())
    assert len(rows) == 6
    for label, *_, accuracy, interval, f1, _, _ in rows:
        assert label in text, label
        for number in re.findall(r"[\d.]+%", accuracy + interval) + [f1]:  # a cell may wrap between numbers
            assert number in text, (label, number)
    assert "imgbench compare --preset quick" in text and "McNemar" in text and "Environment" in text
    title = subprocess.run(["pdftotext", "-f", "1", "-l", "1", pdf, "-"], capture_output=True, text=True).stdout
    revision = json.loads((quick_study[0] / "runs" / "digits-mlp-numpy-seed0" / "env.json").read_text())["git_revision"]
    assert "quick" in title and "Git revision" in title and (revision or "not recorded") in title
    pages = int(
        re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", pdf], capture_output=True, text=True).stdout)[1]
    )
    assert pages > 3 and f"2 / {pages}" in text  # numbered pages
    subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-scale-to", "600", "-png", pdf, tmp_path / "page"], check=True)
    (png,) = tmp_path.glob("page*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_docx_has_word_tables_figures_and_headings(documents):
    need("docx")
    import docx

    doc = docx.Document(documents / "report.docx")
    page = (documents / "report.html").read_text()
    summary = next(t for t in doc.tables if t.rows[0].cells[4].text == "accuracy mean ± std")
    cells = [[c.text for c in row.cells] for row in summary.rows[1:]]
    html_rows = _summary_rows(page)
    assert [r[0] for r in cells] == [r[0] for r in html_rows]  # one row per model / engine
    assert [r[4:6] for r in cells] == [r[4:6] for r in html_rows]  # accuracy and interval, exactly as in the HTML
    assert len(doc.inline_shapes) >= page.count("<img ") >= 11
    headings = {(p.style.name, p.text) for p in doc.paragraphs if p.style.name.startswith("Heading")}
    assert {("Heading 1", "digits"), ("Heading 2", "Timings"), ("Heading 1", "Environment")} <= headings
    text = "\n".join(p.text for p in doc.paragraphs)
    sentences = re.findall(r"<li>(.*?)</li>", page.split("<ul>", 1)[1].split("</ul>", 1)[0])
    assert len(sentences) == 15
    for sentence in sentences:  # the comparisons in words
        assert html.unescape(sentence) in text
    assert "imgbench compare --preset quick" in text  # the command that reproduces it


def test_latex_tables_compile_with_booktabs_and_siunitx(documents, tmp_path):
    need("tex")
    tables = sorted((documents / "report_files" / "tables").glob("*.tex"))
    assert [t.name for t in tables] == ["digits-comparisons.tex", "digits-summary.tex"]
    summary = tables[1].read_text()
    assert "\\toprule" in summary and "\\pm" in summary and "\\boldmath" in summary
    assert "generalized pivot" in summary and "n = 3 seeds x" in summary  # the caption names method and n
    for table in tables:
        doc = tmp_path / f"{table.stem}-doc.tex"
        doc.write_text(MINIMAL_DOCUMENT.format(table=table.as_posix()))
        proc = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout[-3000:]


def test_missing_extra_is_one_error_naming_it_and_html_md_are_still_written(quick_study, tmp_path, monkeypatch):  # noqa: F811
    study, _, _ = quick_study
    monkeypatch.setitem(sys.modules, "docx", None)  # `import docx` fails, as without python-docx
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    runs = [study / "runs" / f"digits-{m}-numpy-seed0" for m in ("mlp", "cnn-tiny")]
    with pytest.raises(ImgbenchError) as caught:
        write_report(runs, tmp_path, formats=["docx", "pdf", "html", "md"])
    message = str(caught.value)
    assert "\n" not in message and message.count("pip install 'imgbench[documents]'") == 1, message
    assert "python-docx" in message and "playwright" in message, message
    assert (tmp_path / "report.html").exists() and (tmp_path / "report.md").exists()
    assert not (tmp_path / "report.docx").exists() and not (tmp_path / "report.pdf").exists()


def test_compare_writes_the_formats_asked_for(quick_study, tmp_path):  # noqa: F811
    study, _, _ = quick_study
    copy = tmp_path / "quick"
    for run in ("digits-mlp-numpy-seed0", "digits-cnn-tiny-numpy-seed0"):  # finished: compare only reports
        shutil.copytree(study / "runs" / run, copy / "runs" / run)
    args = ["--preset", "quick", "--engines", "numpy", "--seeds", "0", "--out", copy, "--format", "md,tex"]
    proc = run_cli("compare", *args)
    assert proc.returncode == 0, proc.stderr
    assert "2 runs, 2 already finished, 0 to run" in proc.stderr
    assert (copy / "report.md").exists() and (copy / "report_files" / "tables" / "digits-summary.tex").exists()
    assert not (copy / "report.html").exists()
    assert_clean_error(run_cli("report", "--study", copy, "--format", "html,pfd"), "--format", "did you mean 'pdf'")

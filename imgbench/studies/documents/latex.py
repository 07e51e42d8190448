"""LaTeX tables of the report: per dataset, one booktabs table of the summary and one of the pairwise comparisons.

Each ``.tex`` file is a ``table`` float to ``\\input`` into a paper that loads ``booktabs`` and ``siunitx``.
The numbers are those of the HTML page, written with the same formatting functions; accuracy is in percent
(the unit in the column head), with ``\\pm`` the standard deviation over seeds, the best value of each column in
bold, and a caption that names each interval's method and n.
"""

from __future__ import annotations

from pathlib import Path

from ...fileio import atomic_write_text
from ..report_figures import slug
from ..report_render import MISSING, num, percent, points, pvalue

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",  # pdflatex's default font has no < or > outside math
    ">": r"\textgreater{}",
    "−": "$-$",
    "–": "--",
    "—": "---",
    "±": r"$\pm$",
    "×": r"$\times$",
}
PREAMBLE = "% Needs \\usepackage{booktabs} and \\usepackage{siunitx}.\n"


def escape(text: object) -> str:
    """``text`` as LaTeX source: special characters escaped, the report's typographic signs spelled out."""
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def _math(text: str, bold: bool = False) -> str:
    """A number (already formatted) in math mode, in bold math for the best value; missing -> '--'."""
    if MISSING in text:
        return "--"
    return f"{{\\boldmath${text}$}}" if bold else f"${text}$"


def _table(head: list[str], body: list[str], columns: str, caption: tuple[str, str], label: str) -> str:
    """A booktabs ``table`` float: the header rows (and their ``\\cmidrule``), a rule, the body rows; ``caption`` is
    (short, long)."""
    short, long = caption
    return (
        f"{PREAMBLE}\\begin{{table}}[htbp]\n\\centering\n\\footnotesize\n\\setlength{{\\tabcolsep}}{{3pt}}\n"
        f"\\caption[{short}]{{{long}}}\n\\label{{{label}}}\n\\begin{{tabular}}{{{columns}}}\n\\toprule\n"
        + "".join(row + ("\n" if row.startswith("\\cmidrule") else " \\\\\n") for row in head)
        + "\\midrule\n"
        + "".join(f"{row} \\\\\n" for row in body)
        + "\\bottomrule\n\\end{tabular}\n\\end{table}\n"
    )


def _sentences(lines: list[str]) -> str:
    """Caption lines of the report as LaTeX sentences."""
    return " ".join(escape(line if line.endswith(".") else f"{line}.") for line in lines)


def _best(values: list) -> set[int]:
    """Indices of the largest of ``values`` (ties all count; missing values never)."""
    present = [v for v in values if v is not None]
    return {i for i, v in enumerate(values) if present and v == max(present)}


def _mean_std(mean: float | None, std: float | None) -> str:
    """Accuracy over seeds in percent, for math mode: '97.68 \\pm 0.58'."""
    return percent(mean) + ("" if std is None else f" \\pm {percent(std)}")


def summary_table(s: dict) -> str:
    """The dataset's summary: accuracy mean \\pm std and 95% interval (percent), macro F1, precision, recall."""
    rows = s["rows"]
    best = {key: _best([r[key] for r in rows]) for key in ("accuracy", "f1_macro", "precision_macro", "recall_macro")}
    head = [
        " & & & Training & Accuracy & 95\\% CI & \\multicolumn{3}{c}{Macro average}",
        "\\cmidrule(l){7-9}",
        "Model / engine & Seeds & Params & (s) & (\\%) & (\\%) & F1 & Prec. & Recall",
    ]
    body = []
    for i, r in enumerate(rows):
        accuracy = _mean_std(r["accuracy"], r["accuracy_std"])
        iv = r["interval"]
        interval = "--" if iv is None else _math(f"[{percent(iv['low'])}, {percent(iv['high'])}]")
        if iv is not None and not iv["seed_part"]:
            interval += "$^\\dagger$"
        seconds = "--" if r["training_seconds"] is None else f"\\num{{{r['training_seconds']:.1f}}}"
        cells = [escape(r["label"]), str(r["n"]), f"\\num{{{r['params']}}}", seconds]
        cells += [_math(accuracy, i in best["accuracy"]), interval]
        cells += [_math(num(r[k], 4), i in best[k]) for k in ("f1_macro", "precision_macro", "recall_macro")]
        body.append(" & ".join(cells))
    notes = [s["summary_caption"], *s["summary_captions"]]
    dagger = " $^\\dagger$: one seed." if any(r["interval"] and not r["interval"]["seed_part"] for r in rows) else ""
    long = (
        f"{escape(s['name'])}: test accuracy of every model and engine, mean $\\pm$ standard deviation over seeds, "
        f"with its 95\\% interval (CI); the best value of each column in bold. " + _sentences(notes) + dagger
    )
    short = f"{escape(s['name'])}: accuracy of every model and engine"
    return _table(head, body, "lrrrrrrrr", (short, long), f"tab:{slug(s['name'])}-summary")


def comparisons_table(s: dict) -> str:
    """The dataset's pairwise comparisons: A - B and P(A > B) with their intervals, p and Holm's decision."""
    cs = s["comparisons"]
    alpha = f"{cs[0]['alpha']:g}"
    head = [
        "A & B & A $-$ B (points) & P(A $>$ B) & Holm & McNemar",
        f" & & [95\\% interval] & [95\\% interval] & $p$ & $p < {alpha}$",
    ]
    body = []
    for c in cs:
        d, pi, significant = c["difference"], c["prob_improvement"], c["test"]["significant"]
        cells = [escape(c["a"]), escape(c["b"])]
        cells += [_math(f"{points(d['estimate'])}\\ [{points(d['low'])}, {points(d['high'])}]", significant)]
        cells += [_math(f"{num(pi['estimate'])}\\ [{num(pi['low'])}, {num(pi['high'])}]")]
        mc = c["mcnemar_count"]
        cells += [f"\\num{{{pvalue(c['test']['p_holm'])}}}", f"{mc['significant']}/{mc['tests']}"]
        body.append(" & ".join(cells))
    long = (
        f"{escape(s['name'])}: every pair of models compared over all their seeds; significant differences "
        f"(Holm-adjusted $p < {alpha}$) in bold. " + _sentences(s["comparison_captions"])
    )
    short = f"{escape(s['name'])}: pairwise comparisons"
    label = f"tab:{slug(s['name'])}-comparisons"
    return _table(head, body, "llrrrr", (short, long), label)


def reported_table(s: dict, caption: str) -> str:
    """The classic study's figures beside ours: accuracy (percent), macro F1 and training seconds."""
    head = [
        " & \\multicolumn{2}{c}{Accuracy (\\%)} & \\multicolumn{2}{c}{Macro F1} & \\multicolumn{2}{c}{Training (s)}",
        "\\cmidrule(lr){2-3} \\cmidrule(lr){4-5} \\cmidrule(l){6-7}",
        "Model / engine & Reported & Ours & Reported & Ours & Reported & Ours",
    ]
    body = []
    for x in s["reported"]:
        reported, ours = x["reported"], x["ours"]
        cells = [escape(x["label"]), _math(percent(reported.get("accuracy")))]
        cells += [_math(_mean_std(ours["accuracy"], ours["accuracy_std"])), _math(num(reported.get("f1_macro")))]
        cells += [_math(num(ours["f1_macro"], 4)), escape(num(reported.get("training_seconds"), 0))]
        cells += [escape(num(ours["training_seconds"], 1))]
        body.append(" & ".join(cells))
    long = (
        f"{escape(s['name'])}: the classic study's figures beside ours (mean $\\pm$ std over seeds). {escape(caption)}"
    )
    short = f"{escape(s['name'])}: the classic study and ours"
    return _table(head, body, "lrrrrrr", (short, long), f"tab:{slug(s['name'])}-reported")


def write_tables(context: dict, folder: Path) -> list[Path]:
    """Write ``<dataset>-summary.tex``, ``-comparisons.tex`` and, where a classic study reported figures,
    ``-reported.tex`` for every dataset into ``folder``."""
    written = []
    for s in context["sections"]:
        tables = {"summary": summary_table(s)}
        if s["comparisons"]:
            tables["comparisons"] = comparisons_table(s)
        if s["reported"]:
            tables["reported"] = reported_table(s, context["reported_caption"])
        for kind, tex in tables.items():
            path = folder / f"{slug(s['name'])}-{kind}.tex"
            atomic_write_text(path, tex)
            written.append(path)
    return written

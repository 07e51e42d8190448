"""Rendering the report context with the Jinja2 templates: ``report.html.j2`` (autoescaped) and ``report.md.j2``."""

from __future__ import annotations

import math

MISSING = "–"
"""What a table shows for a value that is missing or NaN."""


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def percent(x) -> str:
    """0.97123 -> '97.12' (for a column headed in %); missing or NaN -> '–'."""
    return MISSING if _missing(x) else f"{100 * x:.2f}"


def pct(x) -> str:
    """0.97123 -> '97.12%'; missing or NaN -> '–'."""
    return MISSING if _missing(x) else f"{percent(x)}%"


def num(x, digits: int = 2) -> str:
    """A number with ``digits`` decimals and thousands separators; missing or NaN -> '–'."""
    return MISSING if _missing(x) else f"{x:,.{digits}f}"


def points(x) -> str:
    """A difference in accuracy as signed points: 0.0123 -> '+1.23'; missing -> '–'."""
    return MISSING if _missing(x) else f"{100 * x:+.2f}"


def spread(x: dict | None, digits: int = 2) -> str:
    """A median and its spread (from the report's timing rows): '0.25 [IQR 0.24 – 0.26]'; no spread: the median."""
    if x is None:
        return MISSING
    text = num(x["median"], digits)
    return text if not x["kind"] else f"{text} [{x['kind']} {num(x['low'], digits)} – {num(x['high'], digits)}]"


def count(n) -> str:
    """An integer with thousands separators: 50826 -> '50,826'."""
    return f"{n:,}"


def mean_std(mean, std) -> str:
    """An accuracy over seeds: '97.68% ± 0.58%'; a single seed (no std): '97.68%'."""
    return pct(mean) + ("" if std is None else f" ± {pct(std)}")


def interval(iv: dict | None) -> str:
    """A summary row's accuracy interval: '94.98% – 98.94%', '(one seed)' when it covers test images only."""
    if iv is None:
        return MISSING
    return f"{pct(iv['low'])} – {pct(iv['high'])}" + ("" if iv["seed_part"] else " (one seed)")


def points_interval(iv: dict) -> str:
    """A difference's interval in signed accuracy points: '[-3.09, +5.13]'."""
    return f"[{points(iv['low'])}, {points(iv['high'])}]"


def probability_interval(iv: dict) -> str:
    """A probability's interval: '[0.11, 1.00]'."""
    return f"[{num(iv['low'])}, {num(iv['high'])}]"


def pvalue(p: float) -> str:
    """A p-value to three significant digits: '0.0412', '1'."""
    return f"{p:.3g}"


def yes_no(flag: bool) -> str:
    """A decision in a table cell."""
    return "yes" if flag else "no"


def seed_pairs(mcnemar_count: dict) -> str:
    """How many per-seed McNemar tests are significant: '1 of 3 seed pairs'."""
    n = mcnemar_count["tests"]
    return f"{mcnemar_count['significant']} of {n} seed pair{'s' if n != 1 else ''}"


def cell(x) -> str:
    """A Markdown table cell: a '|' would end the cell and a newline the row."""
    return str(x).replace("|", "\\|").replace("\n", " ")


FILTERS = {
    f.__name__: f
    for f in (
        pct,
        num,
        points,
        spread,
        count,
        mean_std,
        interval,
        points_interval,
        probability_interval,
        pvalue,
        yes_no,
        seed_pairs,
        cell,
    )
}
"""The Jinja2 filters of both templates, by name; the Word document formats its cells with the same functions."""


def _render(template: str, context: dict, *, html: bool) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("imgbench.studies", "templates"),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=not html,  # a Markdown file ends with a newline; the HTML page never had one
    )
    env.filters.update(FILTERS)
    return env.get_template(template).render(**context)


def render_html(context: dict) -> str:
    """The self-contained HTML page (figures embedded as base64 PNGs)."""
    return _render("report.html.j2", context, html=True)


def render_markdown(context: dict) -> str:
    """The same report as Markdown, figures linked from report_files/."""
    return _render("report.md.j2", context, html=False)

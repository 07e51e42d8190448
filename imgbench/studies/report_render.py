"""Rendering the report context with the Jinja2 templates: ``report.html.j2`` (autoescaped) and ``report.md.j2``."""

from __future__ import annotations

import math


def pct(x) -> str:
    """0.97123 -> '97.12%'; missing or NaN -> '–'."""
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}%"


def num(x, digits: int = 2) -> str:
    """A number with ``digits`` decimals and thousands separators; missing or NaN -> '–'."""
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def points(x) -> str:
    """A difference in accuracy as signed points: 0.0123 -> '+1.23'; missing -> '–'."""
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:+.2f}"


def spread(x: dict | None, digits: int = 2) -> str:
    """A median and its spread (from the report's timing rows): '0.25 [IQR 0.24 – 0.26]'; no spread: the median."""
    if x is None:
        return "–"
    text = num(x["median"], digits)
    return text if not x["kind"] else f"{text} [{x['kind']} {num(x['low'], digits)} – {num(x['high'], digits)}]"


def cell(x) -> str:
    """A Markdown table cell: a '|' would end the cell and a newline the row."""
    return str(x).replace("|", "\\|").replace("\n", " ")


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
    env.filters.update(pct=pct, num=num, points=points, spread=spread, cell=cell)
    return env.get_template(template).render(**context)


def render_html(context: dict) -> str:
    """The self-contained HTML page (figures embedded as base64 PNGs)."""
    return _render("report.html.j2", context, html=True)


def render_markdown(context: dict) -> str:
    """The same report as Markdown, figures linked from report_files/."""
    return _render("report.md.j2", context, html=False)

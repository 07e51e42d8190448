"""Rendering the report context as HTML (Jinja2, autoescaped) and as Markdown."""

from __future__ import annotations

import math


def pct(x) -> str:
    """0.97123 -> '97.12%'; missing or NaN -> '–'."""
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}%"


def num(x, digits: int = 2) -> str:
    """A number with ``digits`` decimals and thousands separators; missing or NaN -> '–'."""
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def render_html(context: dict) -> str:
    """The self-contained HTML page (figures embedded as base64 PNGs)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("imgbench.studies", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = pct
    env.filters["num"] = num
    return env.get_template("report.html.j2").render(**context)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def cell(x: str) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(map(cell, header)) + " |",
        "|" + "|".join(":---" if i == 0 else "---:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(map(cell, r)) + " |" for r in rows]
    return lines + [""]


def render_markdown(context: dict) -> str:
    """The same report as Markdown, figures linked from report_files/."""
    out = [
        f"# {context['title']}",
        "",
        f"Generated {context['generated']} from {len(context['runs'])} run directories.",
        "",
    ]
    if context["description"]:
        out += [context["description"], ""]
    out += [f"> {n}" for n in context["notes"]] + ([""] if context["notes"] else [])
    for s in context["sections"]:
        out += [f"## {s['name']}", ""]
        out += _table(
            [
                "model / engine",
                "seeds",
                "parameters",
                "training s",
                "inference images/s",
                "accuracy mean ± std",
                "95% CI",
                "macro F1",
                "precision",
                "recall",
            ],
            [
                [
                    r["label"],
                    r["n"],
                    f"{r['params']:,}",
                    num(r["training_seconds"], 1),
                    num(r["throughput"], 0),
                    f"{pct(r['accuracy'])} ± {pct(r['accuracy_std'])}",
                    f"{pct(r['ci_low'])} – {pct(r['ci_high'])}",
                    num(r["f1_macro"], 4),
                    num(r["precision_macro"], 4),
                    num(r["recall_macro"], 4),
                ]
                for r in s["rows"]
            ],
        )
        if s["reported"]:
            out += ["Reported by the classic study, beside ours:", ""]
            out += _table(
                [
                    "model / engine",
                    "reported accuracy",
                    "our accuracy",
                    "reported F1",
                    "our F1",
                    "reported training s",
                    "our training s",
                ],
                [
                    [
                        x["label"],
                        pct(x["reported"].get("accuracy")),
                        f"{pct(x['ours']['accuracy'])} ± {pct(x['ours']['accuracy_std'])}",
                        num(x["reported"].get("f1_macro"), 2),
                        num(x["ours"]["f1_macro"], 4),
                        num(x["reported"].get("training_seconds"), 0),
                        num(x["ours"]["training_seconds"], 1),
                    ]
                    for x in s["reported"]
                ],
            )
            out += [f"Reported figures: {context['reported_source']}.", ""]
        if s["pairs"]:
            out += ["McNemar's exact test (lowest seed of each model; * marks a Holm-adjusted p below 0.05):", ""]
            out += _table(
                ["A", "B", "only A right", "only B right", "p-value", "Holm-adjusted"],
                [
                    [
                        f"{p['a']} (seed {p['seed_a']})",
                        f"{p['b']} (seed {p['seed_b']})",
                        p["a_only"],
                        p["b_only"],
                        f"{p['p_value']:.3g}",
                        f"{p['p_holm']:.3g}" + (" *" if p["p_holm"] < 0.05 else ""),
                    ]
                    for p in s["pairs"]
                ],
            )
        out += ["Per-class F1:", ""]
        out += _table(
            ["class", *s["labels"]], [[c, *(num(v[l], 3) for l in s["labels"])] for c, v in s["per_class_f1"].items()]
        )
        for f in s["figures"] + s["confusion"] + ([s["mistakes"]] if s["mistakes"] else []):
            out += [f"![{f['caption']}]({f['file']})", "", f"*{f['caption']}*", ""]
        if s["mistakes_note"]:
            out += [s["mistakes_note"], ""]
    out += ["## Runs", ""]
    out += _table(
        ["run directory", "dataset", "model / engine", "seed", "epochs", "accuracy", "macro F1", "training s"],
        [
            [
                r["name"],
                r["dataset"],
                r["label"],
                r["seed"],
                r["epochs"],
                pct(r["accuracy"]),
                num(r["f1_macro"], 4),
                num(r["training_seconds"], 1),
            ]
            for r in context["runs"]
        ],
    )
    out += ["## Environment", ""]
    for env in context["environments"]:
        out += _table(["", "value"], [[k, v] for k, v in env.items()])
    out += ["## Reproduce", "", "```", context["command"], "```", ""]
    return "\n".join(out)

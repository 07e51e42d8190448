"""The report's tables as headers and rows of text, each cell formatted by the functions that format the HTML page.

The Word document (:mod:`.word`) lays these out; a number reads the same there as in ``report.html`` because
both go through :mod:`imgbench.studies.report_render`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..report_render import (
    count,
    interval,
    mean_std,
    num,
    pct,
    points,
    points_interval,
    probability_interval,
    pvalue,
    seed_pairs,
    spread,
    yes_no,
)


@dataclass
class TextTable:
    """A table of text cells: the first ``names`` columns hold names (left-aligned), the rest numbers."""

    headers: list[str]
    rows: list[list[str]]
    names: int = 1
    strong: set[tuple[int, int]] = field(default_factory=set)
    """(row, column) of the cells shown in bold: the best model's row, a significant decision."""


def summary(s: dict) -> TextTable:
    """The summary table of a dataset: one row per model and engine, the most accurate in bold."""
    best = max(r["accuracy"] for r in s["rows"])
    headers = ["model / engine", "seeds", "parameters", "training s", "accuracy mean ± std", "95% interval"]
    headers += ["macro F1", "precision", "recall"]
    rows = [
        [
            r["label"],
            str(r["n"]),
            count(r["params"]),
            num(r["training_seconds"], 1),
            mean_std(r["accuracy"], r["accuracy_std"]),
            interval(r["interval"]),
            num(r["f1_macro"], 4),
            num(r["precision_macro"], 4),
            num(r["recall_macro"], 4),
        ]
        for r in s["rows"]
    ]
    strong = {(i, j) for i, r in enumerate(s["rows"]) if r["accuracy"] == best for j in range(len(headers))}
    return TextTable(headers, rows, strong=strong)


def timings(s: dict) -> TextTable:
    """Inference and epoch times of a dataset's models, medians with their spread."""
    headers = ["model / engine", "inference images per CPU-s", "latency ms", "start-up s", "later epochs s"]
    rows = [
        [
            t["label"],
            spread(t["throughput"], 0),
            spread(t["latency"], 3),
            spread(t["startup"], 3),
            spread(t["later_epochs"], 3),
        ]
        for t in s["timings"]
    ]
    return TextTable(headers, rows)


def reported(s: dict) -> TextTable:
    """The classic study's figures beside ours."""
    headers = ["model / engine", "reported accuracy", "our accuracy", "reported F1", "our F1"]
    headers += ["reported training s", "our training s"]
    rows = [
        [
            x["label"],
            pct(x["reported"].get("accuracy")),
            mean_std(x["ours"]["accuracy"], x["ours"]["accuracy_std"]),
            num(x["reported"].get("f1_macro"), 2),
            num(x["ours"]["f1_macro"], 4),
            num(x["reported"].get("training_seconds"), 0),
            num(x["ours"]["training_seconds"], 1),
        ]
        for x in s["reported"]
    ]
    return TextTable(headers, rows)


def comparisons(s: dict) -> TextTable:
    """Every pair of models over all their seeds; a significant decision in bold."""
    cs = s["comparisons"]
    headers = ["A", "B", "A − B (points)", "95% interval", "P(A > B)", "95% interval", "p", "Holm-adjusted p"]
    headers += ["significant", f"McNemar p < {cs[0]['alpha']:g}"]
    rows = [
        [
            c["a"],
            c["b"],
            points(c["difference"]["estimate"]),
            points_interval(c["difference"]),
            num(c["prob_improvement"]["estimate"], 2),
            probability_interval(c["prob_improvement"]),
            pvalue(c["test"]["p_value"]),
            pvalue(c["test"]["p_holm"]),
            yes_no(c["test"]["significant"]),
            seed_pairs(c["mcnemar_count"]),
        ]
        for c in cs
    ]
    return TextTable(headers, rows, names=2, strong={(i, 8) for i, c in enumerate(cs) if c["test"]["significant"]})


def mcnemar(s: dict) -> TextTable:
    """McNemar's exact test of every seed pair of every compared pair."""
    headers = ["A", "B", "seed A", "seed B", "only A right", "only B right", "p-value"]
    rows: list[list[str]] = []
    strong: set[tuple[int, int]] = set()
    for c in s["comparisons"]:
        for m in c["mcnemar"]:
            if m["p_value"] < c["alpha"]:
                strong.add((len(rows), 6))
            counts = (str(m[k]) for k in ("seed_a", "seed_b", "a_only", "b_only"))
            rows.append([c["a"], c["b"], *counts, pvalue(m["p_value"])])
    return TextTable(headers, rows, names=2, strong=strong)


def per_class_f1(s: dict) -> TextTable:
    """Each class's F1 score for every model and engine."""
    rows = [[c, *(num(vals[label], 3) for label in s["labels"])] for c, vals in s["per_class_f1"].items()]
    return TextTable(["class", *s["labels"]], rows)


def runs(context: dict) -> TextTable:
    """Every run directory of the report."""
    headers = ["run directory", "dataset", "model / engine", "seed", "epochs", "accuracy", "macro F1", "training s"]
    rows = [
        [
            r["name"],
            r["dataset"],
            r["label"],
            str(r["seed"]),
            str(r["epochs"]),
            pct(r["accuracy"]),
            num(r["f1_macro"], 4),
            num(r["training_seconds"], 1),
        ]
        for r in context["runs"]
    ]
    return TextTable(headers, rows, names=3)


def environment(env: dict) -> TextTable:
    """One environment the runs ran in: a name and a value per row."""
    return TextTable(["", "value"], [[k, str(v)] for k, v in env.items()], names=2)

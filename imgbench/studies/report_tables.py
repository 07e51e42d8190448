"""The report's statistics: each model's summary row and timings, the pairwise comparisons, what the study can detect.

Every number with an interval comes from :mod:`imgbench.evaluation` over all seeds x test images; the captions
that say how an interval was made (method, confidence, n) are built here once, for both templates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ImgbenchError
from ..evaluation import (
    accuracy_interval,
    compare_groups,
    describe_comparison,
    power_summary,
    seed_warnings,
    timing_summary,
)
from .report_records import Group, RunRecord
from .studyfile import Study

ALPHA = 0.05
"""Significance level of every test; intervals are at 1 - ALPHA."""
POWER = 0.8
"""Power at which the report states the smallest detectable difference."""


def _mean(values) -> float | None:
    return float(np.mean(values)) if len(values) else None


def group_correctness(groups: list[Group]) -> tuple[dict[str, dict[int, np.ndarray]], list[str]]:
    """Each group's per-seed correctness on its test images, and a note for every group without usable predictions."""
    correct, notes = {}, []
    for g in groups:
        try:
            correct[g.label] = g.correct()
        except ImgbenchError as exc:
            notes.append(f"{g.label}: no interval and no comparison ({exc})")
    return correct, notes


def summarize_group(g: Group, correct: dict[int, np.ndarray] | None) -> dict:
    """One row of the summary table; ``interval`` is :func:`~imgbench.evaluation.accuracy_interval` of all the
    group's seeds x test images (None without predictions)."""
    accuracy = g.values("accuracy")
    return {
        "label": g.label,
        "model": g.model,
        "engine": g.engine,
        "seeds": [r.seed for r in g.runs],
        "n": len(g.runs),
        "params": int(g.runs[0].metrics.get("param_count", 0)),
        "training_seconds": _mean(g.values("training_seconds")),
        "accuracy": _mean(accuracy),
        "accuracy_std": float(np.std(accuracy, ddof=1)) if len(accuracy) > 1 else None,
        "interval": accuracy_interval(correct, 1 - ALPHA) if correct else None,
        "f1_macro": _mean(g.values("f1_macro")),
        "precision_macro": _mean(g.values("precision_macro")),
        "recall_macro": _mean(g.values("recall_macro")),
        "epochs": _mean(g.values("epochs_trained")),
        # Which epoch's weights were scored (train.select); runs written before the setting kept the best
        # validation accuracy's.
        "select": sorted({str((r.config.get("train") or {}).get("select", "best-val-acc")) for r in g.runs}),
    }


SUMMARY_CAPTION = (
    "Accuracy, F1, precision and recall on the test split (macro averages), mean over seeds; ± the standard "
    "deviation over seeds. Training seconds: mean wall time of the training epochs."
)
MCNEMAR_CAPTION = (
    "Two-sided exact binomial test on the test images exactly one of the two runs gets right; each uses one seed "
    "of each model, unadjusted: the table above decides from all seeds at once."
)


def interval_captions(items: list[tuple[str, dict[str, Any]]], what: str) -> list[str]:
    """One line per kind of interval among ``(label, interval)``: its confidence, method and n, naming the labels
    only when the kinds differ (e.g. a single-seed model beside 3-seed ones)."""
    kinds: dict[tuple, list[str]] = {}
    for label, iv in items:
        kinds.setdefault((iv["confidence"], iv["method"], iv["n"]), []).append(label)
    return [
        f"{what}: {confidence:.0%} interval, {method}; n = {n}" + ("" if len(kinds) == 1 else f" ({', '.join(labels)})")
        for (confidence, method, n), labels in kinds.items()
    ]


def summary_captions(rows: list[dict]) -> list[str]:
    """How the summary table's intervals were made, and what a single seed leaves out."""
    lines = interval_captions([(r["label"], r["interval"]) for r in rows if r["interval"]], "Accuracy")
    single = [r["label"] for r in rows if r["interval"] and not r["interval"]["seed_part"]]
    if single:
        lines.append(
            f"One seed ({', '.join(single)}): the seed part of the variance is missing, so that interval "
            "covers test-image sampling only and is too narrow for another seed."
        )
    lines.append(selection_caption(rows))
    return lines


SELECTION_WORDS = {
    "last": "the last epoch",
    "best-val-acc": "the epoch with the best validation accuracy",
    "best-val-loss": "the epoch with the lowest validation loss",
}


def selection_caption(rows: list[dict]) -> str:
    """Which epoch's weights the table scores (``train.select``), naming the models when they differ."""
    rules = {rule for r in rows for rule in r["select"]}
    if len(rules) == 1:
        (rule,) = rules
        return f"Weights scored: those of {SELECTION_WORDS[rule]} (select: {rule})."
    each = "; ".join(f"{r['label']}: {', '.join(r['select'])}" for r in rows)
    return f"Weights scored differ between the models (select): {each}."


def _mcnemar_count(c: dict) -> dict:
    """How many of a comparison's per-seed McNemar tests have a raw p below its alpha."""
    return {"significant": sum(m["p_value"] < c["alpha"] for m in c["mcnemar"]), "tests": len(c["mcnemar"])}


def pairwise(groups: list[Group], correct: dict[str, dict[int, np.ndarray]]) -> tuple[list[dict], list[str]]:
    """:func:`~imgbench.evaluation.compare_groups` over each set of groups scored on the same test images (Holm
    within each set), each comparison with its sentence and McNemar count; a note when the test sets differ."""
    test_sets: dict[bytes, dict[str, dict[int, np.ndarray]]] = {}
    for g in groups:
        if g.label in correct:
            y_true = g.runs[0].predictions["y_true"]
            test_sets.setdefault(y_true.tobytes(), {})[g.label] = correct[g.label]
    comparisons = []
    for family in test_sets.values():
        for c in compare_groups(family, ALPHA, power=POWER):
            comparisons.append({**c, "sentence": describe_comparison(c), "mcnemar_count": _mcnemar_count(c)})
    notes = []
    if len(test_sets) > 1:
        sets = "; ".join(", ".join(family) for family in test_sets.values())
        notes.append(
            f"The models were scored on {len(test_sets)} different test sets; "
            f"only models on the same one are compared: {sets}."
        )
    return comparisons, notes


def pairwise_captions(comparisons: list[dict]) -> list[str]:
    """What each column of the comparison table is, with the method, confidence and n of its intervals."""
    pairs = [(f"{c['a']} vs {c['b']}", c) for c in comparisons]
    c0 = comparisons[0]
    holm = f"{len(comparisons)} pairs" if len(comparisons) > 1 else "1 pair"
    return [
        *interval_captions([(p, c["difference"]) for p, c in pairs], "A − B, accuracy points"),
        *interval_captions(
            [(p, c["prob_improvement"]) for p, c in pairs],
            "P(A > B), the chance that a run of A (seed at random) beats a run of B",
        ),
        f"p: {c0['test']['method']}, the same pivot as the A − B interval; Holm-adjusted over every pair scored "
        f"on the same test set ({holm} in this table); significant: Holm-adjusted p < {c0['alpha']:g}.",
        f"McNemar: exact test of each seed's two runs on the images only one of them gets right (seeds paired by "
        f"number, else the i-th run of each); how many seed pairs have p < {c0['alpha']:g}, unadjusted.",
    ]


def power_line(comparisons: list[dict]) -> str | None:
    """The smallest accuracy difference this dataset's comparisons detect with POWER at ALPHA, in words."""
    if not comparisons:
        return None
    p = power_summary(comparisons, POWER)
    spread = (
        "" if p["pairs"] == 1 else f" (median over {p['pairs']} pairs; {100 * p['min']:.1f} to {100 * p['max']:.1f})"
    )
    line = (
        f"Power: a true difference of {100 * p['median']:.1f} accuracy points{spread} is found with "
        f"{p['power']:.0%} probability at alpha {p['alpha']:g}. Method: {p['method']}."
    )
    if not p["seed_part"]:
        line += " Too optimistic: some model has a single seed, so seed-to-seed variation is not in it."
    return line


def few_seeds(groups: list[Group]) -> list[str]:
    """A warning per group with too few seeds for the seed part of its intervals."""
    return [f"{w}." for w in seed_warnings({g.label: len(g.runs) for g in groups})]


def _spread(values: list[float]) -> dict | None:
    """Median of per-seed values, with their range over seeds when there are several."""
    if not values:
        return None
    kind = "seeds" if len(values) > 1 else None
    return {"median": float(np.median(values)), "low": min(values), "high": max(values), "kind": kind}


def _inference(runs: list[RunRecord], key: str) -> dict | None:
    """A timed inference metric over the seeds' runs: median of each run's median, with the median of their
    quartiles over repeated calls when every run recorded them, else the range over seeds (older runs)."""
    medians = [float(r.metrics[key]) for r in runs if r.metrics.get(key) is not None]
    quartiles = [(r.metrics.get(f"{key}_q25"), r.metrics.get(f"{key}_q75")) for r in runs]
    if not medians or any(q is None for pair in quartiles for q in pair):
        return _spread(medians)
    low, high = (float(np.median(q)) for q in zip(*quartiles, strict=True))
    return {"median": float(np.median(medians)), "low": low, "high": high, "kind": "IQR"}


def startup_seconds(history: list[dict]) -> float | None:
    """A run's one-time start-up: its first epoch's seconds beyond the median of its later epochs (graph
    tracing and compilation, kernel selection, first allocations); None for a run of one epoch."""
    later = [row["seconds"] for row in history[1:]]
    if not later:
        return None
    return max(0.0, history[0]["seconds"] - float(np.median(later)))


def timing_row(g: Group) -> dict:
    """One row of the timing table: inference throughput and latency, the one-time start-up and the epochs
    after the first."""
    histories = [r.history for r in g.runs if r.history]
    later = [row["seconds"] for h in histories for row in h[1:]]
    startups = [s for s in map(startup_seconds, histories) if s is not None]
    epochs = None
    if later:
        t = timing_summary(later)
        epochs = {"median": t["median"], "low": t["q25"], "high": t["q75"], "kind": "IQR"}
    return {
        "label": g.label,
        "throughput": _inference(g.runs, "throughput_images_per_s"),
        "latency": _inference(g.runs, "latency_ms"),
        "startup": _spread(startups),
        "later_epochs": epochs,
    }


TIMING_CAPTION = (
    "Inference: each run times five rounds of repeated calls after a warm-up in CPU time with BLAS on one "
    "thread and keeps the fastest round, so a busy machine does not distort it (a batch for images per "
    "CPU-second, one image for latency); shown is the median over the seeds' runs of each run's median. "
    "[IQR a – b]: the quartiles over that round's calls (median over seeds); [seeds a – b]: the range over the "
    "seeds, for runs timed before quartiles were recorded. Start-up: the one-time work in a run's first epoch "
    "(graph tracing and compilation, notably in Keras), its first epoch's time beyond the median of its later "
    "epochs, shown apart so that it is not read as training speed: median over seeds [range over seeds]. "
    "Later epochs: median over every later epoch of every seed [IQR]."
)


def _matches(reported: dict, dataset: str, model: str, engine: str) -> bool:
    d = str(reported.get("dataset", ""))
    same_data = dataset == d or dataset.startswith(d + "-")
    return same_data and reported.get("model") == model and reported.get("engine", engine) == engine


def reported_beside_ours(study: Study | None, dataset: str, rows: list[dict]) -> list[dict]:
    """The classic study's figures next to ours, one row per reported figure set."""
    if not study or not study.reported:
        return []
    out = []
    for rep in study.reported["rows"]:
        ours = next((r for r in rows if _matches(rep, dataset, r["model"], r["engine"])), None)
        if ours is None:
            continue
        out.append({"label": ours["label"], "reported": rep, "ours": ours})
    return out


def reported_caption(study: Study | None) -> str | None:
    """Where the classic study's figures come from, and why they are not ours."""
    if not study or not study.reported:
        return None
    return f"Reported figures: {study.reported.get('source')}. Their hardware and training budget differ from ours."


def per_class_f1(groups: list[Group], class_names: list[str]) -> dict[str, list[float]]:
    """Each group's F1 score of every class, mean over its seeds."""
    return {
        g.label: [float(np.mean([r.metrics["per_class"][c]["f1"] for r in g.runs])) for c in class_names]
        for g in groups
    }

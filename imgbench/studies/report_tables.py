"""The report's statistics: the summary row of each model, the classic study's figures beside ours, McNemar's test."""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ImgbenchError
from ..evaluation import bootstrap_accuracy_ci, holm_adjust, mcnemar_exact, mean_ci
from .report_records import Group
from .studyfile import Study


def _mean(values) -> float | None:
    return float(np.mean(values)) if len(values) else None


def summarize_group(g: Group) -> dict:
    """One row of the summary table."""
    acc = mean_ci(g.values("accuracy"), bounds=(0.0, 1.0))
    row = {
        "label": g.label,
        "model": g.model,
        "engine": g.engine,
        "seeds": [r.seed for r in g.runs],
        "n": acc["n"],
        "params": int(g.runs[0].metrics.get("param_count", 0)),
        "training_seconds": _mean(g.values("training_seconds")),
        "throughput": _mean(g.values("throughput_images_per_s")),
        "accuracy": acc["mean"],
        "accuracy_std": acc["std"],
        "ci_low": acc["ci_low"],
        "ci_high": acc["ci_high"],
        "ci_kind": "t, across seeds",
        "f1_macro": _mean(g.values("f1_macro")),
        "precision_macro": _mean(g.values("precision_macro")),
        "recall_macro": _mean(g.values("recall_macro")),
        "epochs": _mean(g.values("epochs_trained")),
    }
    if acc["n"] == 1:
        try:
            p = g.runs[0].predictions
            b = bootstrap_accuracy_ci(p["probs"].argmax(1) == p["y_true"])
            row.update(ci_low=b["ci_low"], ci_high=b["ci_high"], ci_kind="bootstrap over test images")
        except ImgbenchError as exc:
            warnings.warn(str(exc), stacklevel=2)
    return row


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


def per_class_f1(groups: list[Group], class_names: list[str]) -> dict[str, list[float]]:
    """Each group's F1 score of every class, mean over its seeds."""
    return {
        g.label: [float(np.mean([r.metrics["per_class"][c]["f1"] for r in g.runs])) for c in class_names]
        for g in groups
    }


def significance(groups: list[Group]) -> tuple[list[str], np.ndarray, list[dict]]:
    """McNemar's exact test between the lowest-seed run of every pair of models on this dataset."""
    labels = [g.label for g in groups]
    k = len(groups)
    p = np.ones((k, k))
    pairs = []
    correct = []
    for g in groups:
        pred = g.runs[0].predictions
        correct.append(pred["probs"].argmax(1) == pred["y_true"])
    for i in range(k):
        for j in range(i + 1, k):
            if correct[i].shape != correct[j].shape:
                continue  # different test sets (e.g. another image size): no paired test
            t = mcnemar_exact(correct[i], correct[j])
            p[i, j] = p[j, i] = t["p_value"]
            pairs.append(
                {
                    "a": labels[i],
                    "b": labels[j],
                    "seed_a": groups[i].runs[0].seed,
                    "seed_b": groups[j].runs[0].seed,
                    **t,
                }
            )
    for pair, adjusted in zip(pairs, holm_adjust([q["p_value"] for q in pairs]), strict=True):
        pair["p_holm"] = adjusted
    return labels, p, pairs

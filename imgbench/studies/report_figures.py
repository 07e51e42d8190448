"""The report's figures: PNGs under ``report_files/``, each remembered with its caption for the templates."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np

from ..errors import ImgbenchError
from .report_records import Group


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


class Figures:
    """PNGs under report_files/, remembered for embedding in the HTML."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.folder / f"{slug(name)}.png"

    def entry(self, name: str, caption: str) -> dict:
        path = self.path(name)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return {"file": f"{self.folder.name}/{path.name}", "data": data, "caption": caption}


def _difference_matrix(labels: list[str], comparisons: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Row minus column accuracy and Holm's decision for every compared pair (NaN / False where not compared)."""
    index = {label: i for i, label in enumerate(labels)}
    difference = np.full((len(labels), len(labels)), np.nan)
    significant = np.zeros_like(difference, dtype=bool)
    for c in comparisons:
        i, j, d = index[c["a"]], index[c["b"]], c["difference"]["estimate"]
        difference[i, j], difference[j, i] = d, -d
        significant[i, j] = significant[j, i] = c["test"]["significant"]
    return difference, significant


def summary_figures(
    figs: Figures,
    dataset: str,
    groups: list[Group],
    rows: list[dict],
    f1: dict[str, list[float]],
    comparisons: list[dict],
) -> list[dict]:
    """Learning curves, per-class F1, accuracy against parameters and, for several models, the pairwise differences."""
    from ..viz.comparison import plot_curves_overlay, plot_per_class_f1, plot_significance, plot_tradeoff

    figures = []
    curves = {g.label: [r.history for r in g.runs if r.history] for g in groups}
    curves = {k: v for k, v in curves.items() if v}
    if curves:
        plot_curves_overlay(
            curves, figs.path(f"{dataset}-curves"), f"{dataset}: learning curves (mean over seeds; band: min to max)"
        )
        figures.append(figs.entry(f"{dataset}-curves", "Learning curves, overlaid."))
    class_names = groups[0].runs[0].metrics["class_names"]
    plot_per_class_f1(f1, class_names, figs.path(f"{dataset}-f1"), f"{dataset}: per-class F1 (mean over seeds)")
    figures.append(figs.entry(f"{dataset}-f1", "F1 score of every class (test split, mean over seeds)."))
    plot_tradeoff(
        [
            {
                "label": r["label"],
                "params": r["params"],
                "accuracy": r["accuracy"],
                "accuracy_std": r["accuracy_std"],
                "seconds": r["training_seconds"] or 0.0,
            }
            for r in rows
        ],
        figs.path(f"{dataset}-tradeoff"),
        f"{dataset}: accuracy vs parameters (marker area: training time)",
    )
    figures.append(
        figs.entry(
            f"{dataset}-tradeoff",
            "Test accuracy against parameter count; the marker's area and label give the mean training time.",
        )
    )
    if comparisons:
        labels = [g.label for g in groups]
        difference, significant = _difference_matrix(labels, comparisons)
        plot_significance(
            labels,
            difference,
            significant,
            figs.path(f"{dataset}-significance"),
            f"{dataset}: row minus column, accuracy points (* significant after Holm)",
        )
        figures.append(
            figs.entry(
                f"{dataset}-significance",
                "Difference in mean test accuracy (row minus column, points) over all seeds of both models; "
                "* marks a pair whose difference is significant after Holm's adjustment. "
                "The comparison table gives the intervals and the tests.",
            )
        )
    return figures


def confusion_figures(figs: Figures, dataset: str, groups: list[Group]) -> list[dict]:
    """One confusion matrix per model and engine, summed over its seeds."""
    from ..viz import plot_confusion_matrix

    class_names = groups[0].runs[0].metrics["class_names"]
    confusion = []
    for g in groups:
        cm = np.sum([np.asarray(r.metrics["confusion_matrix"]) for r in g.runs], axis=0)
        name = f"{dataset}-cm-{g.model}-{g.engine}" + (f"-{g.variant}" if g.variant else "")
        seeds = f"summed over {len(g.runs)} seeds" if len(g.runs) > 1 else f"seed {g.runs[0].seed}"
        plot_confusion_matrix(cm, class_names, figs.path(name), f"{g.label} on {dataset} ({seeds})")
        confusion.append(figs.entry(name, f"{g.label}: confusion matrix, {seeds}."))
    return confusion


def mistakes_figure(
    figs: Figures, dataset: str, groups: list[Group], rows: list[dict]
) -> tuple[dict | None, str | None]:
    """Gallery of the most confident mistakes of the best model's best run on this dataset, or why there is none."""
    from ..data import load_dataset
    from ..viz.galleries import confident_mistakes, plot_mistakes

    best = max(range(len(groups)), key=lambda i: rows[i]["accuracy"])
    run = max(groups[best].runs, key=lambda r: r.metrics["accuracy"])
    pred = run.predictions
    idx = confident_mistakes(pred["y_true"], pred["probs"], 12)
    if len(idx) == 0:
        return None, f"{run.path.name} made no mistakes on the test split"
    c = run.config
    try:
        ds = load_dataset(c["dataset"], c.get("root"), image_size=c.get("image_size"))
    except ImgbenchError as exc:
        return None, f"images not shown: the dataset could not be loaded here ({str(exc).splitlines()[0]})"
    if len(ds.y_test) != len(pred["y_true"]) or not np.array_equal(ds.y_test, pred["y_true"]):
        return None, "images not shown: the dataset found here is not the one the run was tested on"
    name = f"{dataset}-mistakes"
    plot_mistakes(
        ds.X_test[idx],
        pred["y_true"],
        pred["probs"],
        idx,
        run.metrics["class_names"],
        figs.path(name),
        f"most confident mistakes of {run.label} (seed {run.seed}); #: test index",
    )
    return figs.entry(
        name, f"The {len(idx)} most confident mistakes of the most accurate model, {run.label}, run {run.path.name}."
    ), None

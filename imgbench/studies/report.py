"""The comparative report, built only from run directories: ``report.html`` (self-contained) and ``report.md``.

For each dataset: a summary table (mean ± std and a 95% confidence interval
across seeds; a bootstrap interval for single runs), the classic study's
reported figures beside ours, overlaid learning curves, per-class F1,
accuracy against parameters and training time, McNemar's exact test between
every pair of models, confusion matrices and the most confident mistakes.
Then the environment of the runs and the command that reproduces them.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..data import short_name
from ..errors import ImgbenchError
from ..evaluation import bootstrap_accuracy_ci, holm_adjust, mcnemar_exact, mean_ci
from ..fileio import read_json, read_yaml
from ..runs.predictions import read_predictions
from ..training.history import read_history
from .studyfile import Study

ENV_KEYS = (
    "imgbench",
    "python",
    "platform",
    "machine",
    "cpu_count",
    "numpy",
    "torch",
    "torch_threads",
    "tensorflow",
    "keras",
    "device",
    "gpu",
    "blas",
    "git_revision",
)


@dataclass
class RunRecord:
    """What the report needs from one finished run directory."""

    path: Path
    config: dict
    metrics: dict
    history: list[dict]
    env: dict

    @property
    def dataset(self) -> str:
        return short_name(self.metrics.get("dataset") or self.config["dataset"])

    @property
    def model(self) -> str:
        return self.metrics.get("model") or self.config["spec"]["name"]

    @property
    def engine(self) -> str:
        return self.config["engine"]

    @property
    def seed(self) -> int:
        return int(self.config.get("train", {}).get("seed", 0))

    @property
    def label(self) -> str:
        return f"{self.model} / {self.engine}"

    @cached_property
    def predictions(self) -> dict[str, np.ndarray]:
        """``y_true`` and ``probs`` from predictions.npz, read once however many sections use them."""
        return read_predictions(self.path)


@dataclass
class Group:
    """The runs of one (dataset, model, engine), one per seed."""

    dataset: str
    model: str
    engine: str
    runs: list[RunRecord] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.model} / {self.engine}"

    def values(self, key: str) -> list[float]:
        return [float(r.metrics[key]) for r in self.runs if r.metrics.get(key) is not None]


def load_records(run_dirs) -> tuple[list[RunRecord], list[str]]:
    """Finished runs among ``run_dirs`` and a note for every directory left out."""
    records, skipped = [], []
    for d in run_dirs:
        d = Path(d)
        if not (d / "config.yaml").exists():
            raise ImgbenchError(f"{d}: not a run directory (no config.yaml)")
        if not (d / "metrics.json").exists():
            skipped.append(f"{d}: not finished (no metrics.json), left out")
            continue
        env_path = d / "env.json"
        records.append(
            RunRecord(
                d,
                read_yaml(d / "config.yaml", "run config"),
                read_json(d / "metrics.json"),
                read_history(d / "history.csv") if (d / "history.csv").exists() else [],
                read_json(env_path) if env_path.exists() else {},
            )
        )
    if not records:
        raise ImgbenchError("no finished runs to report on" + (": " + "; ".join(skipped) if skipped else ""))
    return records, skipped


def group_runs(records: list[RunRecord]) -> dict[str, list[Group]]:
    """Groups per dataset, in the order the runs came."""
    by_key: dict[tuple, Group] = {}
    for r in records:
        key = (r.dataset, r.model, r.engine)
        by_key.setdefault(key, Group(*key)).runs.append(r)
    out: dict[str, list[Group]] = {}
    for g in by_key.values():
        g.runs.sort(key=lambda r: r.seed)
        out.setdefault(g.dataset, []).append(g)
    return out


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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


class _Figures:
    """PNGs under report_files/, remembered for embedding in the HTML."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.folder / f"{_slug(name)}.png"

    def entry(self, name: str, caption: str) -> dict:
        path = self.path(name)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return {"file": f"{self.folder.name}/{path.name}", "data": data, "caption": caption}


def _mistakes(groups: list[Group], rows: list[dict], figs: _Figures, dataset: str) -> tuple[dict | None, str | None]:
    """Gallery of the most confident mistakes of the best model's best run on this dataset."""
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


def dataset_section(dataset: str, groups: list[Group], study: Study | None, figs: _Figures) -> dict:
    """Tables and figures of one dataset."""
    from ..viz import plot_confusion_matrix
    from ..viz.comparison import plot_curves_overlay, plot_per_class_f1, plot_significance, plot_tradeoff

    rows = [summarize_group(g) for g in groups]
    figures = []
    class_names = groups[0].runs[0].metrics["class_names"]
    curves = {g.label: [r.history for r in g.runs if r.history] for g in groups}
    curves = {k: v for k, v in curves.items() if v}
    if curves:
        plot_curves_overlay(
            curves, figs.path(f"{dataset}-curves"), f"{dataset}: learning curves (mean over seeds; band: min to max)"
        )
        figures.append(figs.entry(f"{dataset}-curves", "Learning curves, overlaid."))
    f1 = {
        g.label: [float(np.mean([r.metrics["per_class"][c]["f1"] for r in g.runs])) for c in class_names]
        for g in groups
    }
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
    labels, p, pairs = significance(groups)
    if len(groups) > 1:
        plot_significance(labels, p, figs.path(f"{dataset}-significance"), f"{dataset}: McNemar exact test")
        figures.append(
            figs.entry(
                f"{dataset}-significance",
                "Pairwise McNemar exact tests on the test split "
                "(lowest seed of each model): raw p-values, * marks p < 0.05 before "
                "correction for multiple comparisons; the table below "
                "gives Holm-adjusted values.",
            )
        )
    confusion = []
    for g in groups:
        cm = np.sum([np.asarray(r.metrics["confusion_matrix"]) for r in g.runs], axis=0)
        name = f"{dataset}-cm-{g.model}-{g.engine}"
        seeds = f"summed over {len(g.runs)} seeds" if len(g.runs) > 1 else f"seed {g.runs[0].seed}"
        plot_confusion_matrix(cm, class_names, figs.path(name), f"{g.label} on {dataset} ({seeds})")
        confusion.append(figs.entry(name, f"{g.label}: confusion matrix, {seeds}."))
    mistakes, mistakes_note = _mistakes(groups, rows, figs, dataset)
    per_class = {c: {label: values[i] for label, values in f1.items()} for i, c in enumerate(class_names)}
    return {
        "name": dataset,
        "rows": rows,
        "reported": reported_beside_ours(study, dataset, rows),
        "figures": figures,
        "confusion": confusion,
        "pairs": pairs,
        "mistakes": mistakes,
        "mistakes_note": mistakes_note,
        "class_names": class_names,
        "per_class_f1": per_class,
        "labels": [g.label for g in groups],
    }


def environments(records: list[RunRecord]) -> list[dict]:
    """The distinct environments the runs ran in (usually one)."""
    seen, out = set(), []
    for r in records:
        env = {k: r.env[k] for k in ENV_KEYS if r.env.get(k) is not None}
        key = repr(sorted(env.items()))
        if key not in seen:
            seen.add(key)
            out.append(env)
    return out


def build_context(run_dirs, figs_dir: Path, study: Study | None = None, notes=(), command: str | None = None) -> dict:
    """Everything the templates show."""
    records, skipped = load_records(run_dirs)
    figs = _Figures(figs_dir)
    sections = [dataset_section(d, groups, study, figs) for d, groups in group_runs(records).items()]
    reproduce = command or "\n".join(f"imgbench train --config {r.path / 'config.yaml'}" for r in records)
    return {
        "title": f"imgbench study: {study.name}" if study else "imgbench report",
        "description": study.description if study else "",
        "reported_source": (study.reported or {}).get("source") if study else None,
        "generated": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "sections": sections,
        "notes": list(notes) + list(study.notes if study else []) + skipped,
        "environments": environments(records),
        "command": reproduce,
        "runs": [
            {
                "name": r.path.name,
                "path": str(r.path),
                "dataset": r.dataset,
                "label": r.label,
                "seed": r.seed,
                "accuracy": r.metrics["accuracy"],
                "f1_macro": r.metrics["f1_macro"],
                "training_seconds": r.metrics.get("training_seconds", 0.0),
                "epochs": r.metrics.get("epochs_trained"),
            }
            for r in records
        ],
    }


def write_report(run_dirs, out: str | Path, study: Study | None = None, notes=(), command: str | None = None):
    """Write ``report.html`` and ``report.md`` (figures in ``report_files/``) into ``out``; returns both paths."""
    from ..fileio import atomic_write_text
    from .report_render import render_html, render_markdown

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    context = build_context(run_dirs, out / "report_files", study, notes, command)
    html, md = out / "report.html", out / "report.md"
    atomic_write_text(html, render_html(context))
    atomic_write_text(md, render_markdown(context))
    return html, md

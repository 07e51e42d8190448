"""HTML for Jupyter: a run, a study and a set of metrics as tables, with their figures inline.

A notebook shows what ``imgbench.train``, ``imgbench.compare`` and ``imgbench.evaluate`` return through
these (see :mod:`imgbench.runs.results`).  Everything is in the HTML itself: figures are base64 PNGs,
there are no scripts, style sheets or links, so a saved notebook shows the same thing offline.  Figures
a run or a study already wrote are embedded as they are; the rest are drawn by :mod:`imgbench.viz`.
"""

from __future__ import annotations

import base64
import functools
import html
import statistics
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ImgbenchError
from ..fileio import read_json, read_yaml

# Headline metrics in the order shown: metrics.json key, label, format.
SUMMARY = (
    ("accuracy", "accuracy", "{:.4f}"),
    ("top3_accuracy", "top-3 accuracy", "{:.4f}"),
    ("f1_macro", "macro F1", "{:.4f}"),
    ("precision_macro", "macro precision", "{:.4f}"),
    ("recall_macro", "macro recall", "{:.4f}"),
    ("log_loss", "log loss", "{:.4f}"),
    ("param_count", "parameters", "{:,}"),
    ("epochs_trained", "epochs", "{}"),
    ("training_seconds", "training seconds", "{:.1f}"),
    ("throughput_images_per_s", "images/s (inference)", "{:,.0f}"),
)


def image(png: bytes, alt: str) -> str:
    """An ``<img>`` holding the PNG itself (a data URI), so nothing is fetched."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" style="max-width:100%" src="data:image/png;base64,{data}"/>'


def drawn(draw: Callable[[Path], object]) -> bytes:
    """The PNG that ``draw(path)`` writes (an :mod:`imgbench.viz` function given a temporary path)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "figure.png"
        draw(path)
        return path.read_bytes()


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain HTML table; every cell escaped."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary(metrics: Mapping[str, Any]) -> str:
    rows = [(label, fmt.format(metrics[key])) for key, label, fmt in SUMMARY if metrics.get(key) is not None]
    return table(("metric", "value"), rows)


def _per_class(metrics: Mapping[str, Any]) -> str:
    per_class = metrics.get("per_class") or {}
    rows = [
        (name, f"{c['precision']:.4f}", f"{c['recall']:.4f}", f"{c['f1']:.4f}", c["support"])
        for name, c in per_class.items()
    ]
    return table(("class", "precision", "recall", "F1", "support"), rows) if rows else ""


def metrics_html(metrics: Mapping[str, Any]) -> str:
    """Headline metrics, the per-class table and the confusion matrix of a metrics dict (``evaluate``'s)."""
    from ..viz import plot_confusion_matrix

    where = f"{metrics.get('split', 'test')} split" + (
        f", {metrics['num_examples']:,} images" if "num_examples" in metrics else ""
    )
    parts = [f"<h4>metrics ({html.escape(where)})</h4>", _summary(metrics)]
    names = metrics.get("class_names") or list(metrics.get("per_class") or {})
    if "confusion_matrix" in metrics and names:
        png = drawn(lambda path: plot_confusion_matrix(metrics["confusion_matrix"], names, path))
        parts.append(image(png, "confusion matrix"))
    parts.append(_per_class(metrics))
    return "".join(parts)


def _curves(run: Path, title: str) -> bytes | None:
    """The run's learning curves: plots/curves.png, or drawn from history.csv before the run has written it."""
    from ..training.history import read_history
    from ..viz import plot_curves

    if (run / "plots" / "curves.png").is_file():
        return (run / "plots" / "curves.png").read_bytes()
    rows = read_history(run / "history.csv") if (run / "history.csv").is_file() else []
    return drawn(lambda path: plot_curves(rows, path, title)) if rows else None


def run_html(run: Path) -> str:
    """A run directory: what was trained, its test metrics, learning curves and confusion matrix."""
    from .health import FINISHED, run_state

    config = read_yaml(run / "config.yaml", "run config")
    model = (config.get("spec") or {}).get("name", config.get("model"))
    state = run_state(run)
    seed = (config.get("train") or {}).get("seed")
    what = f"{model} / {config.get('engine')} on {config.get('dataset')}, seed {seed}"
    parts = [f"<h4>run {html.escape(run.name)}</h4>", f"<p>{html.escape(what)}: {html.escape(state.status)}</p>"]
    metrics = read_json(run / "metrics.json") if state.status == FINISHED else {}
    if metrics:
        parts.append(_summary(metrics))
    curves = _curves(run, f"{model} / {config.get('engine')}")
    if curves is not None:
        parts.append(image(curves, "learning curves"))
    if (run / "plots" / "confusion_matrix.png").is_file():
        parts.append(image((run / "plots" / "confusion_matrix.png").read_bytes(), "confusion matrix"))
    if metrics:
        parts.append(f"<details><summary>per class</summary>{_per_class(metrics)}</details>")
    return "".join(parts)


def _spread(values: list[float], fmt: str) -> str:
    """Mean, and the standard deviation over seeds where there are several."""
    if not values:
        return ""
    mean = fmt.format(statistics.fmean(values))
    return mean + (f" ± {fmt.format(statistics.stdev(values))}" if len(values) > 1 else "")


def _study_rows(runs: list[dict]) -> list[tuple]:
    """One row per dataset, model and engine: finished runs, accuracy and macro F1 over seeds, size, time."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["dataset"], r["model"], r["engine"]), []).append(r)
    rows = []
    for (dataset, model, engine), members in groups.items():
        done = [r for r in members if r["status"] == "finished"]
        seconds = [r["training_seconds"] for r in done if r["training_seconds"] is not None]
        rows.append(
            (
                dataset,
                model,
                engine,
                f"{len(done)} of {len(members)}",
                _spread([r["accuracy"] for r in done], "{:.4f}"),
                _spread([r["f1_macro"] for r in done], "{:.4f}"),
                f"{done[0]['param_count']:,}" if done and done[0]["param_count"] is not None else "",
                _spread(seconds, "{:.1f}"),
            )
        )
    return rows


def _study_curves(runs_dir: Path, runs: list[dict]) -> list[bytes]:
    """Learning curves of every model and engine overlaid, one figure per dataset (when no report drew them)."""
    from ..training.history import read_history
    from ..viz.comparison import plot_curves_overlay

    by_dataset: dict[str, dict[str, list[list[dict]]]] = {}
    for r in runs:
        history = runs_dir / r["name"] / "history.csv"
        if r["status"] == "finished" and history.is_file():
            curves = by_dataset.setdefault(r["dataset"], {})
            curves.setdefault(f"{r['model']} / {r['engine']}", []).append(read_history(history))
    figures = []
    for dataset, curves in by_dataset.items():
        title = f"{dataset}: learning curves (mean over seeds; band: min to max)"
        figures.append(drawn(functools.partial(plot_curves_overlay, curves, title=title)))
    return figures


def study_html(folder: Path) -> str:
    """A study directory: its runs grouped by dataset, model and engine, and the learning curves.

    The curves and the accuracy-against-size figures are the report's (``report_files/``) when it has
    been written; otherwise the curves are drawn from the runs' histories.
    """
    from .index import directory_rows

    if not (folder / "study.yaml").is_file():
        raise ImgbenchError(f"{folder}: not a study directory (no study.yaml)")
    record = read_yaml(folder / "study.yaml", "study record")
    name = (record.get("study") or {}).get("name", folder.name)
    runs = directory_rows(folder / "runs")
    header = ("dataset", "model", "engine", "runs finished", "accuracy", "macro F1", "parameters", "training s")
    parts = [f"<h4>study {html.escape(str(name))}</h4>", table(header, _study_rows(runs))]
    figures = sorted((folder / "report_files").glob("*-curves.png")) + sorted(
        (folder / "report_files").glob("*-tradeoff.png")
    )
    pngs = [p.read_bytes() for p in figures] or _study_curves(folder / "runs", runs)
    parts += [image(png, "study figure") for png in pngs]
    if (folder / "report.html").is_file():
        parts.append(f"<p>the full report: {html.escape(str(folder / 'report.html'))}</p>")
    return "".join(parts)

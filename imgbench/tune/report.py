"""The tune report: ``report.html`` (self-contained) and ``report.md``, from the search's storage and run directories.

It shows what was searched and how (the space, the sampler, the pruner, the
validation split the trials were compared on), how the trials ended (complete,
pruned, failed), the best trials, Optuna's figures (optimisation history,
validation accuracy per epoch, parameter importances, slice and parallel
coordinates; matplotlib PNGs, nothing loaded from the internet), then the best
settings retrained with fresh seeds and evaluated once on the test split: the
summary row of the study report, with its interval over seeds x test images
(:func:`~imgbench.evaluation.accuracy_interval`), and every final run.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from ..fileio import atomic_write_text
from ..studies.report_figures import Figures
from ..studies.report_records import environments, group_runs, load_records, run_rows
from ..studies.report_tables import group_correctness, summarize_group, summary_captions
from .space import OBJECTIVE, Space, shown
from .storage import STATES, trial_rows

BEST_SHOWN = 10  # rows of the best-trials table
PRUNER_WORDS = {
    "median": "median: a trial stops when its best validation accuracy so far is below the median of the earlier "
    "trials at the same epoch (once {startup_trials} trials have finished, and not in its first {warmup_epochs} "
    "epochs)",
    "hyperband": "Hyperband (successive halving from {min_epochs} epochs, keeping 1/{reduction_factor} at each rung)",
    "none": "none (every trial trains all its epochs)",
}


def _figure_makers() -> list[tuple[str, Callable[[optuna.Study], Any], str]]:
    from optuna.importance import FanovaImportanceEvaluator
    from optuna.visualization import matplotlib as om

    return [
        (
            "optimisation history",
            om.plot_optimization_history,
            "Validation accuracy of each completed trial, and the best so far.",
        ),
        (
            "validation accuracy per epoch",
            om.plot_intermediate_values,
            "Validation accuracy after each epoch of every trial, as reported to the pruner; pruned trials end early.",
        ),
        (
            "parameter importances",
            lambda s: om.plot_param_importances(s, evaluator=FanovaImportanceEvaluator(seed=0)),
            "How much of the variation in validation accuracy each parameter explains (fANOVA over completed trials).",
        ),
        ("slice", om.plot_slice, "Validation accuracy of each completed trial against each parameter."),
        (
            "parallel coordinates",
            om.plot_parallel_coordinate,
            "Each completed trial as a line through its parameters to its validation accuracy.",
        ),
    ]


def search_figures(study: optuna.Study, figs: Figures) -> tuple[list[dict], list[str]]:
    """Optuna's matplotlib figures of the search as PNGs, and a note for each that could not be drawn."""
    from ..viz.plots import pyplot, save_figure

    plt = pyplot()
    entries, notes = [], []
    for title, make, caption in _figure_makers():
        with warnings.catch_warnings():
            # Optuna marks its matplotlib plots experimental, and warns when a figure has little to show.
            warnings.simplefilter("ignore")
            try:
                axes = make(study)
            except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # too few trials, or nothing varies
                notes.append(f"{title}: not drawn ({exc})")
                continue
        fig = (axes.flat[0] if isinstance(axes, np.ndarray) else axes).figure
        with warnings.catch_warnings():
            # Optuna's figures ask for a tight layout, which matplotlib declines (and says so, at drawing time)
            # when a legend leaves no room (the per-epoch figure lists every trial); it is drawn all the same.
            warnings.filterwarnings("ignore", message="Tight layout not applied")
            save_figure(fig, figs.path(title))
        plt.close(fig)
        entries.append(figs.entry(title, caption))
    return entries, notes


def _final(final_runs: list[Path]) -> dict[str, Any]:
    """The final runs' summary row (the study report's), its captions, every run and their environments."""
    records, skipped = load_records(final_runs)
    groups = [g for per_dataset in group_runs(records).values() for g in per_dataset]
    correct, notes = group_correctness(groups)
    rows = [summarize_group(g, correct.get(g.label)) for g in groups]
    return {
        "rows": rows,
        "captions": summary_captions(rows),
        "runs": run_rows(records),
        "notes": skipped + notes,
        "environments": environments(records),
    }


def tune_context(
    out: Path, space: Space, study: optuna.Study, final_runs: list[Path], notes=(), command: str = ""
) -> dict[str, Any]:
    """Everything the templates show."""
    rows = trial_rows(study)
    states = Counter(r["state"] for r in rows)
    complete = sorted((r for r in rows if r["state"] == "complete"), key=lambda r: -r["value"])
    figures, figure_notes = search_figures(study, Figures(out / "report_files"))
    final = _final(final_runs)
    best = study.best_trial
    base = space.base_run(None, "runs")[0].settings
    return {
        "title": f"imgbench tune: {space.name}",
        "description": space.description,
        "generated": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "notes": [*notes, *figure_notes, *final["notes"]],
        "setup": {
            "dataset": space.group["datasets"][0],
            "model": space.group["models"][0],
            "engine": space.group["engines"][0],
            "seed": space.seed,
            "objective": f"{OBJECTIVE}: validation accuracy of the epoch each run keeps ({base.train.select}), "
            f"on the {base.train.val_split:.0%} of the training split held out",
            "sampler": space.sampler,
            "pruner": PRUNER_WORDS[space.pruner["type"]].format(**space.pruner),
            "fixed": {**{f"train.{k}": v for k, v in space.base.train.items()}, **space.base.settings},
        },
        "space": [{"name": p.name, "range": p.describe()} for p in space.params],
        "names": [p.name for p in space.params],
        "states": {s: states[s] for s in STATES.values() if states.get(s)},
        "trials": len(rows),
        "best_trials": complete[:BEST_SHOWN],
        "best": {"number": best.number, "value": best.value, "params": best.params, "run": best.user_attrs["run"]},
        "figures": figures,
        "final": final,
        "tuned": "tuned.yaml",
        "command": command,
    }


def write_tune_report(
    out: Path, space: Space, study: optuna.Study, final_runs: list[Path], notes=(), command: str = ""
) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` (figures in ``report_files/``) into ``out``; returns both paths."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    from ..studies.report_render import FILTERS

    context = tune_context(out, space, study, final_runs, notes, command)
    # The study report's settings and filters, over this package's templates.
    strict: dict[str, Any] = {"undefined": StrictUndefined, "trim_blocks": True, "lstrip_blocks": True}
    html, md = out / "report.html", out / "report.md"
    for path, template in ((html, "tune.html.j2"), (md, "tune.md.j2")):
        as_html = path == html  # autoescaped; the Markdown file ends with a newline, the page does not
        env = Environment(
            loader=PackageLoader("imgbench.tune"), autoescape=as_html, keep_trailing_newline=not as_html, **strict
        )
        env.filters.update(FILTERS, shown=shown)
        atomic_write_text(path, env.get_template(template).render(**context))
    return html, md

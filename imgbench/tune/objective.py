"""One trial: an ordinary run whose validation accuracy goes to Optuna after every epoch.

The run is trained by :func:`imgbench.runs.runner.train_run` into
``<out>/trials/trial-NNNN`` with one extra callback, :class:`ReportToTrial`:
after the epoch is committed it reports that epoch's validation accuracy to the
trial and, when the pruner says the trial lags, ends it with
``optuna.TrialPruned``.  A pruned run keeps its committed epochs (it looks like
an interrupted run; the tune index says it was pruned).  The trial's value is
read back from the run directory: the validation accuracy of the epoch whose
weights the run keeps (``train.select``).  The test split is never looked at
here; the run's own metrics.json holds its test evaluation, as every run's does,
and the search does not read it.

:func:`run_trial` runs in this process or in a worker process: either way it
opens the search's storage itself and attaches to its trial by id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from ..fileio import read_yaml
from ..settings import SELECTIONS, RunSettings
from ..training.callbacks import Callback, improved
from ..training.history import read_history
from .space import OBJECTIVE
from .storage import open_storage


class ReportToTrial(Callback):
    """Reports each epoch's validation accuracy to an Optuna trial; raises ``TrialPruned`` when it should stop.

    It must come after the run's writer, so the pruned epoch is committed before training ends.
    """

    def __init__(self, trial: optuna.Trial):
        self.trial = trial
        self.last: float | None = None  # the last value reported: a pruned trial's value

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        self.last = row[OBJECTIVE]
        self.trial.report(row[OBJECTIVE], epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch} (validation accuracy {row[OBJECTIVE]:.4f})")


def kept_row(rows: list[dict], select: str) -> dict:
    """The history row of the epoch whose weights a run keeps, chosen as the run's writer chose it."""
    monitor = SELECTIONS[select]
    if monitor is None:
        return rows[-1]
    best = rows[0]
    for row in rows[1:]:
        if improved(row[monitor], best[monitor], monitor):
            best = row
    return best


def run_value(run: Path) -> float:
    """A finished trial's value, from its run directory: the validation accuracy of the epoch it keeps."""
    config = read_yaml(run / "config.yaml", "run config")
    select = (config.get("train") or {}).get("select", "best-val-acc")
    return float(kept_row(read_history(run / "history.csv"), select)[OBJECTIVE])


def make_pruner(config: dict[str, Any], max_epochs: int) -> optuna.pruners.BasePruner:
    """The pruner a space names (options as :data:`~imgbench.tune.space.PRUNERS` defines them)."""
    kind = config["type"]
    if kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=config["startup_trials"], n_warmup_steps=config["warmup_epochs"]
        )
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=config["min_epochs"],
            max_resource=max(max_epochs, config["min_epochs"]),
            reduction_factor=config["reduction_factor"],
        )
    return optuna.pruners.NopPruner()


@dataclass
class TrialJob:
    """What a process needs to run one trial: the trial, its run settings and where the search lives."""

    number: int
    trial_id: int
    settings: RunSettings
    out: Path
    storage_url: str | None
    study_name: str
    pruner: dict[str, Any]
    max_epochs: int


@dataclass
class TrialResult:
    """How a trial ended: ``complete`` with its value, or ``pruned`` (its last reported value)."""

    number: int
    state: str
    value: float | None
    seconds: float


def run_trial(job: TrialJob) -> TrialResult:
    """Train the trial's run, reporting to the trial (attached by id in the search's storage)."""
    from ..runs.runner import train_run

    study = optuna.load_study(
        study_name=job.study_name,
        storage=open_storage(job.out, job.storage_url),
        pruner=make_pruner(job.pruner, job.max_epochs),
    )
    report = ReportToTrial(optuna.Trial(study, job.trial_id))
    t = time.perf_counter()
    try:
        run = train_run(job.settings, exact_name=True, extra_callbacks=[report])
    except optuna.TrialPruned:
        return TrialResult(job.number, "pruned", report.last, time.perf_counter() - t)
    return TrialResult(job.number, "complete", run_value(run), time.perf_counter() - t)

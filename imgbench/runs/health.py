"""The state of a run directory, judged from its files alone.

``finished``   metrics.json readable and every file of a finished run present;
``resumable``  an epoch committed (and what a resume needs), not finished;
``stale``      started, nothing committed: nothing in it is worth keeping;
``damaged``    unreadable or missing files, and no committed epoch to resume from;
``missing``    no such directory.

A study decides from this what to do with each planned run, and ``runs
reindex`` and the report leave out runs that are not finished and intact.  The
answer is only acted on by the process that holds the run's lock
(:mod:`imgbench.runs.lock`): a run another process is writing may look stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..engines import WEIGHT_SUFFIX
from ..errors import ImgbenchError
from ..fileio import read_json, read_yaml
from ..training.checkpoint import DamagedCheckpointError, read_checkpoint

FINISHED, RESUMABLE, STALE, DAMAGED, MISSING = "finished", "resumable", "stale", "damaged", "missing"
# Written before the first epoch (resume needs them) and, with metrics.json, by every finished run.
_STARTED_FILES = ("env.json", "preprocess.json")
_FINISHED_FILES = (*_STARTED_FILES, "history.csv", "predictions.npz")


@dataclass(frozen=True)
class RunState:
    """A run directory's status and, when it is not finished and intact, what is wrong or missing."""

    status: str
    problem: str | None = None


def _metrics_problem(run: Path, engine: str) -> str | None:
    """None when metrics.json is readable and every file of a finished run is there; else what is wrong."""
    try:
        metrics = read_json(run / "metrics.json")
    except ImgbenchError as exc:
        return str(exc)
    if not isinstance(metrics, dict) or "accuracy" not in metrics:
        return f"{run / 'metrics.json'}: not the metrics of a run (no accuracy)"
    wanted = [run / name for name in _FINISHED_FILES] + [run / "weights" / f"best{WEIGHT_SUFFIX[engine]}"]
    missing = [p.name for p in wanted if not p.is_file()]
    return f"{run}: finished, but {', '.join(missing)} missing" if missing else None


def run_state(run: str | Path) -> RunState:
    """What state the run directory ``run`` is in (see the module's docstring)."""
    run = Path(run)
    if not run.is_dir():
        return RunState(MISSING)
    has_metrics = (run / "metrics.json").exists()
    if not (run / "config.yaml").exists():
        return RunState(DAMAGED, f"{run}: no config.yaml") if has_metrics else RunState(STALE, f"{run}: no config.yaml")
    try:
        config = read_yaml(run / "config.yaml", "run config")
        engine = str(config.get("engine", "numpy"))
        if engine not in WEIGHT_SUFFIX:
            raise ImgbenchError(f"{run / 'config.yaml'}: unknown engine '{engine}'")
    except ImgbenchError as exc:
        return RunState(DAMAGED, str(exc))
    problem = _metrics_problem(run, engine) if has_metrics else None
    if has_metrics and problem is None:
        return RunState(FINISHED)
    try:
        committed = read_checkpoint(run, engine)
    except DamagedCheckpointError as exc:
        return RunState(DAMAGED, str(exc))
    lacking = [name for name in _STARTED_FILES if not (run / name).is_file()]
    if lacking:
        return RunState(DAMAGED if committed or has_metrics else STALE, f"{run}: {', '.join(lacking)} missing")
    if committed is not None:
        return RunState(RESUMABLE, problem)
    return RunState(DAMAGED, problem) if has_metrics else RunState(STALE)


def unfinished_reason(run: str | Path) -> str | None:
    """None for a finished, intact run; otherwise why it is not one (for notes such as "left out")."""
    state = run_state(run)
    if state.status == FINISHED:
        return None
    return state.problem or f"{run}: not finished ({state.status})"

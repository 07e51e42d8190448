"""Where a search keeps its trials, what a killed search left behind, and the tune index.

Optuna's journal file (``<out>/journal.log``, appended under a file lock by every
process of the search) holds the trials, their parameters, their per-epoch
validation values and their states; ``--storage URL`` names a relational database
instead.  The search is resumed from it: a trial still marked running belongs to a
search that was killed (``tune`` holds ``<out>/tune.lock`` while it runs, so no
other process can own it).  Such a trial whose run finished is recorded as
complete from its run directory; any other is marked failed and its parameters
are asked again as a new trial, so no trial is lost and none is counted twice.

The tune index, ``<out>/trials.csv``, lists every trial (number, state, value,
epochs, seconds, run directory, the trial it retries, parameters); it is written
from the storage after every trial.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from ..errors import ImgbenchError
from ..fileio import atomic_write_text
from ..runs.health import FINISHED, run_state

JOURNAL = "journal.log"
INDEX = "trials.csv"
TRIALS_DIR = "trials"
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)  # a finished trial; a failed one is asked again
INDEX_COLUMNS = ("number", "state", "value", "epochs", "seconds", "run", "retry_of")
STATES = {  # a trial's state in the tune index and the report
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
}


def open_storage(out: Path, url: str | None = None) -> Any:
    """The storage of the search in ``out``: its journal file, or the database at ``url``."""
    # imgbench prints one line per trial; Optuna's own info lines would say it all again.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if url is None:
        return JournalStorage(JournalFileBackend(str(out / JOURNAL)))
    try:
        return optuna.storages.RDBStorage(url)
    except ImportError as exc:
        raise ImgbenchError(f"--storage {url}: {exc}") from None
    except Exception as exc:  # SQLAlchemy's errors: a bad URL, a database that cannot be opened
        raise ImgbenchError(f"--storage {url}: cannot open the database ({exc})") from None


def clear_stale_journal_lock(out: Path) -> None:
    """Remove the journal's lock left by a process killed while appending to it.

    Optuna breaks such a lock only after 30 s; it is ours to remove because the caller holds the tune
    folder's lock, so no other search writes this journal, and this one has not started its workers.
    """
    with contextlib.suppress(FileNotFoundError):
        (out / f"{JOURNAL}.lock").unlink()


def run_of(trial: FrozenTrial) -> str:
    """The trial's run directory, relative to the search's folder (empty before it was asked to run)."""
    return str(trial.user_attrs.get("run", ""))


def recover(study: optuna.Study, out: Path, value_of: Callable[[Path], float]) -> list[str]:
    """Settle the trials a killed search left running; returns a line about each.

    A trial whose run finished gets its value from the run directory (``value_of``); any other is marked
    failed, its run directory kept, and its parameters are enqueued to be trained again as a new trial.
    """
    said = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        run = run_of(trial)
        if run and run_state(out / run).status == FINISHED:
            study.tell(trial.number, value_of(out / run))
            said.append(f"trial {trial.number}: its run finished before the search was interrupted; recorded")
            continue
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        said.append(f"trial {trial.number}: interrupted; marked failed and its settings asked again as a new trial")
    return said


def counted(study: optuna.Study) -> int:
    """How many trials have finished (complete or pruned): what ``--trials`` counts."""
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def completed(study: optuna.Study) -> int:
    """How many trials completed: those have a value that can be the best."""
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per trial for the tune index and the report."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        seconds = t.duration.total_seconds() if t.duration is not None else None
        rows.append(
            {
                "number": t.number,
                "state": STATES[t.state],
                "value": t.value,
                "epochs": len(t.intermediate_values),
                "seconds": seconds,
                "run": run_of(t),
                "retry_of": t.user_attrs.get("retry_of"),
                "params": dict(t.params),
            }
        )
    return rows


def write_index(study: optuna.Study, out: Path, names: list[str]) -> None:
    """``trials.csv``: every trial with its state, value, run directory and the parameters ``names``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*INDEX_COLUMNS, *names])
    for row in trial_rows(study):
        fixed = ["" if row[c] is None else row[c] for c in INDEX_COLUMNS]
        w.writerow([*fixed, *(row["params"].get(n, "") for n in names)])
    atomic_write_text(out / INDEX, buf.getvalue())

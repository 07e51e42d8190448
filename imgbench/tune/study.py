"""Run a search: Optuna asks, imgbench trains each trial as a run, then the best settings get fresh seeds.

The tune folder::

    <out>/tune.yaml                 the space searched, its storage and the command that ran it
    <out>/journal.log               Optuna's journal (unless --storage names a database)
    <out>/trials.csv                the tune index: every trial's state, value, run directory and parameters
    <out>/trials/trial-NNNN/        one run directory per trial (a pruned one keeps its committed epochs)
    <out>/final/trial-NNNN-seedS/   the best trial's settings trained again with --final-seeds fresh seeds
    <out>/tuned.yaml                the best settings: `imgbench train --config tuned.yaml` reruns them
    <out>/report.html  <out>/report.md  <out>/report_files/

Optuna is driven ask-and-tell from this process, which alone asks and tells, so
``--trials N`` is exact: the search ends once N trials have finished (complete
or pruned), counting those of earlier invocations.  Trials run here, in
``--workers`` processes or as Ray tasks (``--executor ray``, :mod:`imgbench.studies.executors`),
which attach to their trial in the shared storage to report each epoch's validation
accuracy.  A trial lost with its Ray node is not retried (its run directory exists by
then): the search stops, as it does when a local worker dies, and ``tune`` again
settles the trial; the final runs are retried and resume.  The objective sees validation data
only; the test split is evaluated once the search is over, by the final runs.
Running ``tune`` again on the folder continues the search (see
:mod:`.storage` for what a killed search leaves and how it is settled).
"""

from __future__ import annotations

import copy
import math
import shlex
import sys
import time
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from ..errors import ImgbenchError
from ..fileio import read_yaml, write_yaml
from ..kinds import definitions
from ..runs.index import RunIndex
from ..runs.lock import FileLock, LockHeldError
from ..settings import RunSettings
from ..studies.compare import execute_run
from ..studies.executors import check_executor, executor_session, open_executor
from ..studies.studyfile import PlannedRun
from .knobs import DataShape, check_fit, trial_settings
from .objective import TrialJob, TrialResult, make_pruner, run_trial, run_value
from .space import OBJECTIVE, Space, shown
from .storage import (
    JOURNAL,
    TRIALS_DIR,
    clear_stale_journal_lock,
    completed,
    counted,
    open_storage,
    recover,
    write_index,
)

FINAL_DIR = "final"
TUNED_VARIANT = "tuned"  # the final runs' variant, unless the search's settings name one
TUNED = "tuned.yaml"


def _record(out: Path, space: Space, url: str | None, command: str) -> None:
    """tune.yaml; another search (another space or storage) already in ``out`` is an error, not something to mix."""
    path = out / "tune.yaml"
    record = {"space": space.to_dict(), "storage": url or JOURNAL, "command": command}
    if path.exists():
        old = read_yaml(path, "tune record")
        if old.get("space") != record["space"] or old.get("storage") != record["storage"]:
            name = (old.get("space") or {}).get("name")
            raise ImgbenchError(
                f"{out} holds another search ('{name}', or the same one with another space or storage); "
                "choose another --out"
            )
    write_yaml(path, record)


def _open_study(space: Space, out: Path, url: str | None, workers: int) -> optuna.Study:
    study = optuna.create_study(
        study_name=space.name, storage=open_storage(out, url), direction="maximize", load_if_exists=True
    )
    # Seeded by the space's seed and the trials so far: a continued search does not repeat its first suggestions.
    seed = space.seed + len(study.trials)
    if space.sampler == "random":
        study.sampler = optuna.samplers.RandomSampler(seed=seed)
    else:  # parallel workers: count running trials as bad ("constant liar"), so they are not suggested twice
        study.sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=workers > 1)
    study.pruner = make_pruner(space.pruner, space.max_epochs())
    return study


def _words(params: dict[str, Any]) -> str:
    return "  ".join(f"{k}={shown(v)}" for k, v in params.items())


class Search:
    """The trials of one invocation: asked here, trained here or in workers, told here."""

    def __init__(self, study: optuna.Study, space: Space, base: RunSettings, data: DataShape, out: Path, url):
        self.study, self.space, self.base, self.data, self.out, self.url = study, space, base, data, out, url
        self.distributions = {p.name: p.distribution() for p in space.params}
        self.names = list(self.distributions)

    def _job(self, pool: Any) -> TrialJob:
        trial = self.study.ask(self.distributions)
        key = f"trial-{trial.number:04d}"
        trial.set_user_attr("run", f"{TRIALS_DIR}/{key}")
        try:
            settings = trial_settings(self.base, trial.params, self.data)
        except ImgbenchError:
            self.study.tell(trial.number, state=TrialState.FAIL)
            raise
        settings.name = key
        settings.evaluate = "val"  # a trial never sees the test split: only the final runs are scored on it
        return TrialJob(
            trial.number,
            trial._trial_id,  # how a process attaches to the trial (optuna.Trial(study, trial_id))
            pool.share(settings),
            self.out.resolve(),  # a Ray worker may start elsewhere
            self.url,
            self.space.name,
            self.space.pruner,
            self.space.max_epochs(),
        )

    def _tell(self, result: TrialResult) -> None:
        if result.state == "complete":
            self.study.tell(result.number, result.value)
        else:
            self.study.tell(result.number, state=TrialState.PRUNED)

    def run(
        self, trials: int, deadline: float, workers: int, say: Callable[[str], None], executor: str = "local"
    ) -> None:
        """Ask and train trials until ``trials`` have finished or ``deadline`` (monotonic) has passed; ``workers``
        trials at a time on ``executor``."""
        done = counted(self.study)
        width = len(str(trials))
        running: dict[futures.Future, int] = {}
        # retries=False: a retried trial would find the run directory its lost attempt made (see the docstring).
        with open_executor(executor, workers, retries=False) as pool:
            if pool.about and done < trials:
                say(pool.about)
            while True:
                while len(running) < workers and done + len(running) < trials and time.monotonic() < deadline:
                    job = self._job(pool)
                    running[pool.submit(run_trial, job, run=job.settings)] = job.number
                if not running:
                    break
                finished, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for f in finished:
                    number = running.pop(f)
                    error = f.exception()
                    if error is not None:
                        self.study.tell(number, state=TrialState.FAIL)
                        write_index(self.study, self.out, self.names)
                        raise error
                    result = f.result()
                    self._tell(result)
                    done += 1
                    write_index(self.study, self.out, self.names)
                    trial = self.study.get_trials(deepcopy=False)[number]
                    best = self.study.best_value if completed(self.study) else math.nan
                    say(
                        f"[{done:>{width}}/{trials}] trial {number:<4} {result.state:<8} {OBJECTIVE} "
                        f"{result.value if result.value is not None else math.nan:.4f}  best {best:.4f}  "
                        f"{result.seconds:6.1f} s  {_words(trial.params)}"
                    )


def _final_runs(
    study: optuna.Study,
    space: Space,
    base: RunSettings,
    data: DataShape,
    out: Path,
    seeds: int,
    workers: int,
    say,
    executor: str = "local",
) -> list[Path]:
    """The best trial's settings trained with ``seeds`` fresh seeds into ``<out>/final`` (finished ones kept)."""
    best = study.best_trial
    settings = trial_settings(base, best.params, data)
    runs_dir = (out / FINAL_DIR).resolve()
    with open_executor(executor, min(workers, seeds)) as pool:
        planned = []
        for seed in range(space.seed + 1, space.seed + 1 + seeds):  # never the seed the search selected on
            key = f"trial-{best.number:04d}-seed{seed}"
            s = pool.share(copy.deepcopy(settings), among=workers)
            s.name, s.runs_dir, s.train.seed = key, str(runs_dir), seed
            # A report of these runs beside untuned ones of the same model (imgbench report FINAL/* UNTUNED/*)
            # keeps them apart and compares them seed by seed: "cnn-125k / keras / tuned".
            s.variant = s.variant or TUNED_VARIANT
            planned.append(PlannedRun(key, s, base.dataset))
        chosen = ", ".join(str(p.settings.train.seed) for p in planned)
        say(f"final: trial {best.number}'s settings ({OBJECTIVE} {best.value:.4f}) trained with seeds {chosen}")
        submitted = [pool.submit(execute_run, p, False, pool.owner_grace, run=p.settings) for p in planned]
        for f in submitted:  # in seed order
            key, what, seconds, note = f.result()
            if note:
                say(f"note: {note}")
            say(f"final {key:<28} {what:<16} {seconds:6.1f} s")
    return [runs_dir / p.key for p in planned]


def write_tuned(out: Path, settings: RunSettings) -> Path:
    """tuned.yaml: the best trial's settings as a config that ``imgbench train --config`` reruns."""
    from ..data import absolute_dataset_name

    defaults = definitions(RunSettings)
    tuned = copy.deepcopy(settings)
    for name in ("name", "runs_dir", "quiet", "study", "evaluate"):  # where the trial went, not what it trained
        setattr(tuned, name, defaults[name].default)
    tuned.dataset = absolute_dataset_name(tuned.dataset)
    write_yaml(out / TUNED, tuned.to_dict())
    return out / TUNED


def run_tune(
    space: Space,
    out: str | Path,
    *,
    trials: int = 20,
    timeout: float | None = None,
    workers: int = 1,
    final_seeds: int = 3,
    storage: str | None = None,
    root: str | None = None,
    quiet: bool = False,
    command: str | None = None,
    wait: bool = False,
    executor: str = "local",
    ray_address: str | None = None,
) -> Path:
    """Search ``space`` until ``trials`` trials have finished (or ``timeout`` seconds have passed), then train
    the best settings with ``final_seeds`` fresh seeds, evaluate them once on the test split, write tuned.yaml
    and the report; returns ``out``.  ``out`` is locked while the search runs (``wait``: wait for another).

    ``executor``: where trials and final runs train, ``local`` (here, or in ``workers`` processes) or ``ray``
    (Ray tasks on a local Ray, or on the cluster at ``ray_address``; ``out`` must then be on a file system
    every node shares)."""
    if workers < 1:
        raise ImgbenchError(f"--workers must be at least 1, found {workers}")
    check_executor(executor, ray_address)
    out = Path(out)
    root = str(Path(root).expanduser().resolve()) if root else None
    command = command or " ".join(shlex.quote(a) for a in ["imgbench", *sys.argv[1:]])

    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    lock = FileLock(out / "tune.lock", f"tune folder {out}")
    try:
        lock.acquire(timeout=None if wait else 0, on_wait=lambda holder: say(f"waiting: {out} is in use by {holder}"))
    except LockHeldError as exc:
        raise LockHeldError(f"{exc}; wait for it to finish, or pass --wait") from None
    with lock, executor_session(executor, ray_address):
        planned, notes = space.base_run(root, (out / TRIALS_DIR).resolve())
        base = planned.settings
        data = check_fit(space, base)
        _record(out, space, storage, command)
        if storage is None:
            clear_stale_journal_lock(out)
        study = _open_study(space, out, storage, workers)
        for line in [*notes, *recover(study, out, run_value)]:
            say(f"note: {line}")
        search = Search(study, space, base, data, out, storage)
        write_index(study, out, search.names)
        done = counted(study)
        say(
            f"search '{space.name}': {trials} trials, {done} finished already"
            + (f", {trials - done} to run" if done < trials else "")
            + (" as Ray tasks" if executor == "ray" and done < trials else "")
            + (f" in {workers} worker processes" if executor == "local" and workers > 1 and done < trials else "")
        )
        deadline = time.monotonic() + timeout if timeout else math.inf
        search.run(trials, deadline, workers, say, executor)
        if counted(study) < trials:
            say(f"--timeout {timeout:g} s: {counted(study)} of {trials} trials have finished; 'tune' again goes on")
        if not completed(study):
            raise ImgbenchError(f"{out}: no trial has completed (all pruned or failed), so there is no best trial yet")
        final = _final_runs(study, space, base, data, out, final_seeds, workers, say, executor)
        for folder in (TRIALS_DIR, FINAL_DIR):  # Ray tasks leave the run index to this process
            if (out / folder).is_dir():
                RunIndex(out / folder).reindex()
        tuned = write_tuned(out, trial_settings(base, study.best_trial.params, data))
        from .report import write_tune_report

        html, md = write_tune_report(out, space, study, final, notes=notes, command=command)
        say(f"tuned settings: {tuned} (imgbench train --config {tuned})\nreport: {html} and {md}")
    return out

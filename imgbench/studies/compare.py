"""Run a study: every planned run, one after another or in worker processes, then the report.

The study directory::

    <out>/study.yaml       the resolved study and the command that ran it
    <out>/runs/<key>/      one run directory per planned run (fixed names)
    <out>/runs/index.sqlite
    <out>/report.html  <out>/report.md  <out>/report_files/   (and the other --format documents)

Running a study again skips finished runs, resumes runs that committed at
least one epoch, and trains again runs that had not, or that are damaged
(unreadable or missing files), so an interrupted or damaged study heals.

Safe under concurrency and crashes: ``compare`` holds ``<out>/study.lock`` for
the whole study (a second ``compare`` on the folder stops, or waits with
``wait``), and a run is trained, resumed or deleted only by the process that
holds its lock (:mod:`imgbench.runs.lock`).  Worker processes die with their
parent (:mod:`imgbench.studies.workers`).

Where the runs train is the executor's business (:mod:`imgbench.studies.executors`): here, in local
worker processes, or as Ray tasks (``--executor ray``); either way the workers train into the run
directories and this process reads their results and reindexes the runs directory.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from collections.abc import Iterable
from concurrent import futures
from pathlib import Path

from ..errors import ImgbenchError
from ..fileio import read_json, read_yaml, write_yaml
from ..runs.health import FINISHED, MISSING, RESUMABLE, run_state
from ..runs.index import RunIndex
from ..runs.lock import LockHeldError, run_lock, study_lock
from ..runs.results import StudyDir
from ..settings import RunSettings
from ..training.checkpoint import DamagedCheckpointError
from .executors import OWNER_GRACE_SECONDS, check_executor, open_executor
from .studyfile import PlannedRun, Study, plan_runs

# Run settings besides data, model, engine and train: that make a run another run (runs recorded before a
# setting existed hold its default).  Image size and precision change what is learned (a bf16 run is not
# the fp32 run); device, threads and trackers only change where and how fast, so a study may resume on
# another machine.
COMPARED_SETTINGS = (
    "variant",
    "init_from",
    "new_head",
    "freeze",
    "unfreeze_after",
    "head_lr",
    "image_size",
    "precision",
)


def execute_run(
    planned: PlannedRun, wait: bool = False, grace: float = OWNER_GRACE_SECONDS
) -> tuple[str, str, float, str | None]:
    """Train, resume or heal one planned run as its owner; returns ``(key, what was done, seconds, note)``.

    The run's lock is held throughout; another process holding it gets ``grace`` seconds to let go
    (with ``wait``, as long as it takes).  ``note`` says what was wrong with a damaged run.
    """
    from ..runs.runner import resume_run, train_run

    runs_dir = Path(planned.settings.runs_dir)
    run = runs_dir / planned.key
    t = time.perf_counter()
    with run_lock(runs_dir, planned.key).acquire(timeout=None if wait else grace):
        state = run_state(run)
        if state.status == FINISHED:
            return planned.key, "already finished", 0.0, None
        problem = state.problem
        if state.status == RESUMABLE:
            try:
                resume_run(run)
                return planned.key, "resumed", time.perf_counter() - t, problem and f"{problem}; resumed"
            except DamagedCheckpointError as exc:
                problem = str(exc)
        if state.status != MISSING:
            shutil.rmtree(run)  # stale or damaged, and ours: nothing in it is worth keeping
        train_run(planned.settings, exact_name=True)
        return planned.key, "trained", time.perf_counter() - t, problem and f"{problem}; trained again"


def _check_plan(planned: list[PlannedRun]) -> None:
    """Fail before training anything if a model does not fit its dataset or a dataset is missing."""
    from ..data import load_dataset
    from ..specs import build_spec

    shapes: dict[tuple, tuple] = {}
    for p in planned:
        s = p.settings
        key = (s.dataset, s.root, s.image_size)
        if key not in shapes:
            ds = load_dataset(s.dataset, s.root, image_size=s.image_size)
            shapes[key] = (ds.image_shape, ds.num_classes)
        build_spec(s.model, *shapes[key])


def _record_study(out: Path, study: Study, planned: list[PlannedRun], notes: list[str], command: str) -> None:
    """study.yaml; a different study already in ``out`` is an error, not something to mix with."""
    path = out / "study.yaml"
    keys = [p.key for p in planned]
    record = {"study": study.to_dict(), "runs": keys, "notes": notes, "command": command}
    if path.exists():
        old = read_yaml(path, "study record")
        same = old.get("study", {}).get("name") == study.name and all(
            _comparable(config, p) for p in planned if (config := _readable_config(out / "runs" / p.key)) is not None
        )
        if not same:
            raise ImgbenchError(
                f"{out} holds another study ('{old.get('study', {}).get('name')}', or the same "
                f"one with other settings); choose another --out"
            )
        record["runs"] = list(dict.fromkeys(old.get("runs", []) + keys))
    write_yaml(path, record)


def _readable_config(run: Path) -> dict | None:
    """A run's config.yaml, or None where it is missing or damaged (such a run is trained again)."""
    try:
        return read_yaml(run / "config.yaml", "run config") if (run / "config.yaml").exists() else None
    except ImgbenchError:
        return None


def _comparable(config: dict, planned: PlannedRun) -> bool:
    """Does an existing run directory hold the run the plan asks for (same data, model, engine, training)?"""
    s = planned.settings
    return (
        config.get("dataset") == s.dataset
        and config.get("model") == s.model
        and config.get("engine") == s.engine
        and (config.get("train") or {}) == s.train.to_dict()
        and all(config.get(k, getattr(RunSettings, k)) == getattr(s, k) for k in COMPARED_SETTINGS)
    )


def _train_all(
    todo: list[PlannedRun], runs_dir: Path, workers: int, wait: bool, say, executor: str, address: str | None
) -> None:
    """Execute the runs ``todo`` on ``executor`` (here or in ``workers`` processes, or Ray), saying each result.

    A run that starts from another run of the study (``after``) is submitted once that run has finished."""
    if not todo:
        return
    width = len(str(len(todo)))

    def done(i: int, key: str, what: str, seconds: float, note: str | None) -> None:
        if note:
            say(f"note: {note}")
        m = read_json(runs_dir / key / "metrics.json")
        say(f"[{i:>{width}}/{len(todo)}] {key:<40} {what:<9} test accuracy {m['accuracy']:.4f}  {seconds:6.1f} s")

    with open_executor(executor, workers if len(todo) > 1 else 1, address=address) as pool:
        if pool.about:
            say(pool.about)
        for p in todo:
            pool.share(p.settings)
        queued = list(todo)
        unfinished = {p.key for p in todo}
        pending: set[futures.Future] = set()
        i = 0
        while queued or pending:
            while pool.slots is None or len(pending) < pool.slots:
                ready = next((q for q in queued if q.after is None or q.after not in unfinished), None)
                if ready is None:
                    break
                queued.remove(ready)
                pending.add(pool.submit(execute_run, ready, wait, pool.owner_grace, run=ready.settings))
            if not pending:  # plan_runs checks that every 'after' is a run of the study: a cycle, then
                raise ImgbenchError(f"runs that start from each other: {', '.join(q.key for q in queued)}")
            finished, pending = futures.wait(pending, return_when=futures.FIRST_EXCEPTION)
            for f in finished:
                error = f.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
                i += 1
                unfinished.discard(f.result()[0])
                done(i, *f.result())


def run_study(
    study: Study,
    out: str | Path,
    *,
    root: str | None = None,
    workers: int = 1,
    quiet: bool = False,
    report: bool = True,
    command: str | None = None,
    wait: bool = False,
    report_formats: str | Iterable[str] | None = None,
    executor: str = "local",
    ray_address: str | None = None,
) -> Path:
    """Train every run of ``study`` that is not finished yet, then write the report; returns ``out``.

    ``report_formats``: the report's formats (default html and md; see :func:`~imgbench.studies.report.write_report`).
    ``executor``: where the runs train, ``local`` (here, or in ``workers`` processes) or ``ray`` (Ray tasks on a
    local Ray, or on the cluster at ``ray_address``; ``out`` must then be on a file system every node shares).

    ``out`` is locked while the study runs: another study running there already is an error naming
    its process, or, with ``wait``, is waited for.
    """
    if workers < 1:
        raise ImgbenchError(f"--workers must be at least 1, found {workers}")
    check_executor(executor, ray_address)
    out = Path(out)
    runs_dir = out / "runs"
    root = str(Path(root).expanduser().resolve()) if root else None
    planned, notes = plan_runs(study, root, runs_dir.resolve())
    command = command or " ".join(shlex.quote(a) for a in ["imgbench", *sys.argv[1:]])
    _check_plan(planned)

    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    lock = study_lock(out)
    try:
        lock.acquire(timeout=None if wait else 0, on_wait=lambda holder: say(f"waiting: {out} is in use by {holder}"))
    except LockHeldError as exc:
        raise LockHeldError(f"{exc}; wait for it to finish, or pass --wait") from None
    with lock:
        runs_dir.mkdir(parents=True, exist_ok=True)
        _record_study(out, study, planned, notes, command)
        todo = [p for p in planned if run_state(runs_dir / p.key).status != FINISHED]
        say(
            f"study '{study.name}': {len(planned)} runs, {len(planned) - len(todo)} already finished, "
            f"{len(todo)} to run"
            + (" as Ray tasks" if executor == "ray" and todo else "")
            + (f" in {workers} worker processes" if executor == "local" and workers > 1 and todo else "")
        )
        for note in notes:
            say(f"note: {note}")
        t0 = time.perf_counter()
        _train_all(todo, runs_dir, workers, wait, say, executor, ray_address)
        RunIndex(runs_dir).reindex()  # cheap, and repairs rows a killed worker never wrote
        if todo:
            say(f"trained {len(todo)} runs in {time.perf_counter() - t0:.1f} s")
        if report:
            from .report import write_report

            runs = [runs_dir / p.key for p in planned]
            written = write_report(runs, out, study=study, notes=notes, command=command, formats=report_formats)
            say(f"report: {', '.join(map(str, written))}")
    return StudyDir(out)

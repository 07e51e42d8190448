"""Run a study: every planned run, one after another or in worker processes, then the report.

The study directory::

    <out>/study.yaml       the resolved study and the command that ran it
    <out>/runs/<key>/      one run directory per planned run (fixed names)
    <out>/runs/index.sqlite
    <out>/report.html  <out>/report.md  <out>/report_files/

Running a study again skips finished runs (metrics.json present), resumes
runs that finished at least one epoch, and restarts runs that had not.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

from ..errors import ImgbenchError
from ..fileio import read_json, read_yaml, write_yaml
from ..runs.index import RunIndex
from .studyfile import PlannedRun, Study, plan_runs


def run_status(run: Path) -> str:
    """``finished``, ``resumable`` (at least one epoch saved), ``stale`` (started, nothing saved) or ``missing``."""
    if (run / "metrics.json").exists():
        return "finished"
    if (run / "checkpoint" / "progress.json").exists():
        return "resumable"
    return "stale" if run.exists() else "missing"


def execute_run(planned: PlannedRun) -> tuple[str, str, float]:
    """Train (or resume) one planned run; returns ``(key, what was done, seconds)``."""
    from ..runs.runner import resume_run, train_run

    run = Path(planned.settings.runs_dir) / planned.key
    status = run_status(run)
    t = time.perf_counter()
    if status == "finished":
        return planned.key, "already finished", 0.0
    if status == "resumable":
        resume_run(run)
        return planned.key, "resumed", time.perf_counter() - t
    if status == "stale":
        shutil.rmtree(run)  # killed before its first epoch ended: nothing in it is worth keeping
    train_run(planned.settings)
    if not run.is_dir():  # train_run names clashing runs name-2; a study's names must be exact
        raise ImgbenchError(f"{run}: the run was written elsewhere; is another study writing here?")
    return planned.key, "trained", time.perf_counter() - t


def _init_worker(threads: int) -> None:
    """Each worker gets its share of the cores, for BLAS, torch and TensorFlow alike."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)


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
            _comparable(read_yaml(out / "runs" / p.key / "config.yaml", "run config"), p)
            for p in planned
            if (out / "runs" / p.key / "config.yaml").exists()
        )
        if not same:
            raise ImgbenchError(
                f"{out} holds another study ('{old.get('study', {}).get('name')}', or the same "
                f"one with other settings); choose another --out"
            )
        record["runs"] = list(dict.fromkeys(old.get("runs", []) + keys))
    write_yaml(path, record)


def _comparable(config: dict, planned: PlannedRun) -> bool:
    """Does an existing run directory hold the run the plan asks for (same data, model, engine, training)?"""
    s = planned.settings
    return (
        config.get("dataset") == s.dataset
        and config.get("model") == s.model
        and config.get("engine") == s.engine
        and (config.get("train") or {}) == s.train.to_dict()
    )


def run_study(
    study: Study,
    out: str | Path,
    *,
    root: str | None = None,
    workers: int = 1,
    quiet: bool = False,
    report: bool = True,
    command: str | None = None,
) -> Path:
    """Train every run of ``study`` that is not finished yet, then write the report; returns ``out``."""
    if workers < 1:
        raise ImgbenchError(f"--workers must be at least 1, found {workers}")
    out = Path(out)
    runs_dir = out / "runs"
    root = str(Path(root).expanduser().resolve()) if root else None
    planned, notes = plan_runs(study, root, runs_dir.resolve())
    command = command or " ".join(shlex.quote(a) for a in ["imgbench", *sys.argv[1:]])
    _check_plan(planned)
    runs_dir.mkdir(parents=True, exist_ok=True)
    _record_study(out, study, planned, notes, command)
    todo = [p for p in planned if run_status(runs_dir / p.key) != "finished"]

    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    say(
        f"study '{study.name}': {len(planned)} runs, {len(planned) - len(todo)} already finished, "
        f"{len(todo)} to run" + (f" in {workers} worker processes" if workers > 1 and todo else "")
    )
    for note in notes:
        say(f"note: {note}")
    t0 = time.perf_counter()
    width = len(str(len(todo)))

    def done(i: int, key: str, what: str, seconds: float) -> None:

        m = read_json(runs_dir / key / "metrics.json")
        say(f"[{i:>{width}}/{len(todo)}] {key:<40} {what:<9} test accuracy {m['accuracy']:.4f}  {seconds:6.1f} s")

    if workers <= 1 or len(todo) <= 1:
        for i, p in enumerate(todo, 1):
            done(i, *execute_run(p))
    else:
        threads = max(1, (os.cpu_count() or 1) // workers)
        for p in todo:
            p.settings.threads = p.settings.threads or threads
        with ProcessPoolExecutor(
            workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(threads,)
        ) as pool:
            pending = {pool.submit(execute_run, p) for p in todo}
            i = 0
            while pending:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in finished:
                    error = f.exception()
                    if error is not None:
                        for other in pending:
                            other.cancel()
                        raise error
                    i += 1
                    done(i, *f.result())
    RunIndex(runs_dir).reindex()  # cheap, and repairs rows a killed worker never wrote
    if todo:
        say(f"trained {len(todo)} runs in {time.perf_counter() - t0:.1f} s")
    if report:
        from .report import write_report

        html, md = write_report([runs_dir / p.key for p in planned], out, study=study, notes=notes, command=command)
        say(f"report: {html} and {md}")
    return out

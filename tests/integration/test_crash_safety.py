"""Crash safety of a run: a kill at any file-system step of an epoch's checkpoint resumes bit for bit.

The kill is simulated in-process: every call that changes what is on disk
(``os.replace``, ``os.rename``, ``os.link``, ``os.unlink``, ``os.rmdir``,
``os.mkdir``) is counted, and at the k-th one the "process dies": that call and
every later one does nothing (no clean-up runs, as after kill -9) and a
:class:`SimulatedKill` unwinds the stack.  Then ``resume_run`` must finish the
run with the weights, predictions, metrics and history of the uninterrupted run.
Real kill -9 of processes is tested in test_compare.py.

To keep hundreds of kills affordable, the two figures are written as stand-in
files (still atomic writes, so still kill points), the inference-speed
measurement is skipped (neither is part of a run's results) and fsync does
nothing: it guards against power loss, which an in-process kill leaves aside.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from imgbench.cli import main
from imgbench.engines import WEIGHT_SUFFIX
from imgbench.errors import ImgbenchError
from imgbench.fileio import atomic_write_bytes, is_temporary
from imgbench.runs.health import FINISHED, RESUMABLE, run_state
from imgbench.runs.runner import RunSettings, open_run, resume_run, train_run
from imgbench.training import TrainConfig
from imgbench.training.checkpoint import PROGRESS, RunWriter
from imgbench.training.history import read_history

MUTATIONS = ("replace", "rename", "link", "unlink", "rmdir", "mkdir")
TIMING = ("seconds", "throughput", "latency")  # metrics that measure time, not results


class SimulatedKill(BaseException):
    """The process "died" here (a BaseException, so no ``except Exception`` handles it)."""


class KillSwitch:
    """Counts file-system changes while armed and kills the process at the ``at``-th (None: never).

    ``at`` may also be a test ``(call name, arguments) -> bool``: the kill comes at the first call it accepts.
    """

    def __init__(self, at):
        self.at, self.count, self.armed, self.dead = at, 0, False, False
        self.calls: list[str] = []

    def wrap(self, fn):
        def mutation(*args, **kwargs):
            if self.dead:
                return None  # a dead process changes nothing
            if self.armed:
                self.count += 1
                self.calls.append(f"{fn.__name__}{tuple(str(a) for a in args)}")
                if self.count == self.at or (callable(self.at) and self.at(fn.__name__, args)):
                    self.dead = True
                    raise SimulatedKill(f"killed at file-system change {self.count}: {self.calls[-1]}")
            return fn(*args, **kwargs)

        return mutation


@contextlib.contextmanager
def kill_switch(monkeypatch, at, epoch: int, last_epoch: int = 2):
    """A :class:`KillSwitch` armed from the start of epoch ``epoch``'s checkpoint to its end, or, for the
    last epoch, to the end of the run (evaluation included).  Everything is restored afterwards."""
    switch = KillSwitch(at)
    original = RunWriter.on_epoch_end

    def on_epoch_end(self, epoch_done, row):
        switch.armed = switch.armed or epoch_done == epoch
        original(self, epoch_done, row)
        switch.armed = switch.armed and epoch_done == last_epoch

    with monkeypatch.context() as m:
        m.setattr(RunWriter, "on_epoch_end", on_epoch_end)
        for name in MUTATIONS:
            m.setattr(os, name, switch.wrap(getattr(os, name)))
        yield switch


@pytest.fixture
def fast_run(monkeypatch):
    """Stand-in figures, no speed measurement, no fsync, one BLAS thread (see the module's docstring)."""
    import imgbench.viz

    monkeypatch.setattr(imgbench.viz, "plot_curves", lambda rows, path, title="": atomic_write_bytes(path, b"curves"))
    monkeypatch.setattr(
        imgbench.viz, "plot_confusion_matrix", lambda cm, names, path, title="": atomic_write_bytes(path, b"cm")
    )
    monkeypatch.setattr("imgbench.runs.runner.inference_speed", lambda engine, X: {})
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    with threadpool_limits(1):  # two cores shared by many processes: BLAS threads would only wait for each other
        yield


def settings_for(engine: str, runs_dir, name: str) -> RunSettings:
    """A small run: mlp-small on digits, 2 epochs of 5 steps."""
    return RunSettings(
        dataset="digits",
        model="mlp-small",
        engine=engine,
        device="cpu" if engine == "torch" else "auto",
        runs_dir=str(runs_dir),
        name=name,
        quiet=True,
        train=TrainConfig(epochs=2, batch_size=256, seed=3),
    )


def results(run) -> dict:
    """Everything a run's result consists of, timings left out."""
    out = {}
    for which in ("best", "last"):
        _, engine, _ = open_run(run, which)
        out.update({f"{which}/{k}": v for k, v in engine.state_dict().items()})
    with np.load(run / "predictions.npz") as z:
        out.update({f"predictions/{k}": z[k] for k in z.files})
    metrics = json.loads((run / "metrics.json").read_text())
    out["metrics"] = {k: v for k, v in metrics.items() if not any(t in k for t in TIMING)}
    out["history"] = [{k: v for k, v in r.items() if k != "seconds"} for r in read_history(run / "history.csv")]
    return out


def assert_same_results(a: dict, b: dict, where: str) -> None:
    assert a.keys() == b.keys(), where
    for k, v in a.items():
        if isinstance(v, np.ndarray):
            assert np.array_equal(v, b[k]), f"{where}: {k} differs"
        else:
            assert v == b[k], f"{where}: {k} differs"


def assert_clean(run) -> None:
    """No temporary file or folder is left, and the checkpoint holds the commit record and one epoch."""
    leftovers = [p for p in run.rglob("*") if is_temporary(p.name)]
    assert leftovers == []
    committed = json.loads((run / "checkpoint" / PROGRESS).read_text())["folder"]
    assert {p.name for p in (run / "checkpoint").iterdir()} == {PROGRESS, committed}


def kill_and_resume(monkeypatch, tmp_path, engine: str, name: str, at, epoch: int, expected: dict) -> str:
    """Train with a kill at ``at``, resume, and check the result equals ``expected``; returns where it was killed."""
    with kill_switch(monkeypatch, at, epoch), pytest.raises(SimulatedKill) as killed:
        train_run(settings_for(engine, tmp_path, name))
    run = tmp_path / name
    if run_state(run).status != FINISHED:  # a kill after metrics.json leaves nothing to resume
        resume_run(run)
    assert_same_results(results(run), expected, str(killed.value))
    assert_clean(run)
    return str(killed.value)


@pytest.mark.parametrize(
    "engine,epoch",
    [
        ("numpy", 1),  # the first commit: nothing committed before it
        ("numpy", 2),  # the last commit, then the evaluation
        ("torch", 2),
        pytest.param("keras", 2, marks=pytest.mark.slow),  # about 30 kills at ~4 s each
    ],
)
def test_kill_at_every_file_system_step_resumes_bit_identical(tmp_path, monkeypatch, fast_run, engine, epoch):
    """For every k: a kill at the k-th file-system change of epoch ``epoch``'s checkpoint (and, for the last
    epoch, of the evaluation after it), then ``resume_run``: the same results as the uninterrupted run."""
    if engine != "numpy":
        pytest.importorskip(engine)
    with kill_switch(monkeypatch, None, epoch) as counter:
        expected = results(train_run(settings_for(engine, tmp_path, "reference")))
    assert counter.count > 10, counter.calls  # temporary folder, rename, commit, publication, pruning
    for k in range(1, counter.count + 1):
        kill_and_resume(monkeypatch, tmp_path, engine, f"killed-at-{k}", k, epoch, expected)


def test_keras_kill_at_the_commit_steps_resumes_bit_identical(tmp_path, monkeypatch, fast_run):
    """The steps that decide what a resume sees, for Keras in the default suite (every step is tested as slow)."""
    pytest.importorskip("keras")
    expected = results(train_run(settings_for("keras", tmp_path, "reference")))
    steps = {
        "before the epoch folder is renamed into place": lambda name, args: name == "rename",
        "before the commit record is replaced": lambda name, args: name == "replace" and PROGRESS in str(args[1]),
        "before weights/best is published": lambda name, args: name == "link" and "weights" in str(args[1]),
    }
    for i, (what, at) in enumerate(steps.items()):
        where = kill_and_resume(monkeypatch, tmp_path, "keras", f"killed-{i}", at, 2, expected)
        assert where, what


# ---- a full disk, a read-only folder, damaged files: one error line naming the file ------------------------------


def train_args(engine: str, runs_dir, name: str) -> list[str]:
    """The CLI arguments of :func:`settings_for`'s run."""
    args = ["train", "--dataset", "digits", "--model", "mlp-small", "--engine", engine, "--epochs", "2"]
    args += ["--batch-size", "256", "--seed", "3", "--runs-dir", str(runs_dir), "--name", name, "--quiet"]
    return args + (["--device", "cpu"] if engine == "torch" else [])


def one_error_line(capsys, *needles: str) -> str:
    """The single ``imgbench: error:`` line the command printed, checked to contain ``needles``."""
    err = capsys.readouterr().err
    assert err.startswith("imgbench: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@contextlib.contextmanager
def tmpfs(path, size: str):
    """A real tmpfs of ``size`` mounted at ``path`` (skips where mounting is not allowed)."""
    path.mkdir()
    if shutil.which("mount") is None or sys.platform != "linux":
        pytest.skip("mount(8) is not available")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {proc.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path) -> None:
    """Write ``path`` until the file system is full."""
    with open(path, "wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    assert os.statvfs(path).f_bavail == 0


@pytest.mark.parametrize("engine", ["numpy", "torch", "keras"])
def test_disk_filling_up_mid_run_real_tmpfs_one_error_line_then_resume_bit_identical(
    tmp_path, monkeypatch, capsys, fast_run, engine
):
    if engine != "numpy":
        pytest.importorskip(engine)
    assert main(train_args(engine, tmp_path, "reference")) == 0
    expected = results(tmp_path / "reference")
    with tmpfs(tmp_path / "disk", "4m") as disk:
        original = RunWriter.on_epoch_end

        def fill_after_epoch_1(self, epoch, row):
            original(self, epoch, row)
            if epoch == 1:
                fill(disk / "ballast")

        capsys.readouterr()
        with monkeypatch.context() as m:
            m.setattr(RunWriter, "on_epoch_end", fill_after_epoch_1)
            assert main(train_args(engine, disk, "full")) == 1
        one_error_line(capsys, str(disk / "full"), "No space left on device")
        assert run_state(disk / "full").status == RESUMABLE  # epoch 1 stays committed, nothing half-written
        assert [p for p in (disk / "full").rglob("*") if is_temporary(p.name)] == []
        (disk / "ballast").unlink()
        assert main(["train", "--resume", str(disk / "full")]) == 0
        assert_same_results(results(disk / "full"), expected, "resumed after the disk was full")
        assert_clean(disk / "full")


@pytest.mark.parametrize("engine", ["numpy", "torch", "keras"])
def test_disk_full_simulated_at_the_first_fsync_of_epoch_2_one_error_line_then_resume_bit_identical(
    tmp_path, monkeypatch, capsys, fast_run, engine
):
    """ENOSPC raised by a patched os.fsync (where a full disk shows on many file systems)."""
    if engine != "numpy":
        pytest.importorskip(engine)
    assert main(train_args(engine, tmp_path, "reference")) == 0
    expected = results(tmp_path / "reference")
    switch = KillSwitch(None)

    def fsync(fd):
        if switch.armed:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    original = RunWriter.on_epoch_end

    def on_epoch_end(self, epoch, row):
        switch.armed = epoch == 2
        original(self, epoch, row)

    capsys.readouterr()
    with monkeypatch.context() as m:
        m.setattr(RunWriter, "on_epoch_end", on_epoch_end)
        m.setattr(os, "fsync", fsync)
        assert main(train_args(engine, tmp_path, "full")) == 1
    one_error_line(capsys, str(tmp_path / "full"), "No space left on device")
    assert run_state(tmp_path / "full").status == RESUMABLE
    assert main(["train", "--resume", str(tmp_path / "full")]) == 0
    assert_same_results(results(tmp_path / "full"), expected, "resumed after a simulated full disk")
    assert_clean(tmp_path / "full")


def test_read_only_runs_folder_real_read_only_mount(tmp_path, capsys, fast_run):
    with tmpfs(tmp_path / "ro", "8m") as runs:
        assert main(train_args("numpy", runs, "done")) == 0
        subprocess.run(["mount", "-o", "remount,ro", str(runs)], check=True)
        capsys.readouterr()
        assert main(["runs", "list", "--runs-dir", str(runs), "--json"]) == 0
        assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["done"]
        assert main(["runs", "show", "done", "--runs-dir", str(runs)]) == 0
        assert "finished" in capsys.readouterr().out
        assert main(train_args("numpy", runs, "new")) == 1
        one_error_line(capsys, str(runs), "Read-only file system")
        assert main(["runs", "reindex", "--runs-dir", str(runs)]) == 1
        one_error_line(capsys, str(runs / "index.sqlite"), "cannot write the run index")


def test_read_only_runs_folder_simulated_by_patching_access_and_mkdir(tmp_path, monkeypatch, capsys, fast_run):
    """Where nothing can be mounted: os.access says "not writable" and mkdir fails with EROFS under the folder."""
    runs = tmp_path / "runs"
    assert main(train_args("numpy", runs, "done")) == 0
    index = runs / "index.sqlite"
    before = sorted(p.name for p in runs.iterdir()), index.stat().st_mtime_ns
    real_access, real_mkdir = os.access, os.mkdir

    def access(path, mode, **kwargs):
        return False if mode & os.W_OK and str(path).startswith(str(runs)) else real_access(path, mode, **kwargs)

    def mkdir(path, *args, **kwargs):
        if str(path).startswith(str(runs)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(os, "mkdir", mkdir)
    capsys.readouterr()
    assert main(["runs", "list", "--runs-dir", str(runs), "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["done"]
    assert (sorted(p.name for p in runs.iterdir()), index.stat().st_mtime_ns) == before  # no WAL, nothing written
    index.unlink()  # no index at all: the run directories are read instead
    assert main(["runs", "list", "--runs-dir", str(runs), "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["done"]
    assert not index.exists()
    assert main(train_args("numpy", runs, "new")) == 1
    one_error_line(capsys, str(runs), "Read-only file system")


DAMAGES = {
    "zero-byte": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "garbage": lambda data: bytes(range(256)) * 8,
}


def damage(path, how: str) -> None:
    """Replace ``path`` by a damaged copy (a new file: the links to the old one keep it intact)."""
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(DAMAGES[how](data))


@pytest.mark.parametrize("engine", ["numpy", "torch", "keras"])
def test_damaged_checkpoint_files_give_one_error_line_naming_the_file(tmp_path, monkeypatch, capsys, fast_run, engine):
    """Zero-byte, truncated or garbage weights, optimiser state, history or progress record: resume refuses."""
    if engine != "numpy":
        pytest.importorskip(engine)
    with kill_switch(monkeypatch, 1, 2), pytest.raises(SimulatedKill):  # killed as epoch 2's checkpoint begins
        train_run(settings_for(engine, tmp_path, "killed"))
    folder = tmp_path / "killed" / "checkpoint" / "epoch-0001"
    files = [folder / f"state{WEIGHT_SUFFIX[engine]}", folder / "history.csv", folder.parent / PROGRESS]
    files += [folder / "optimizer.npz"] if engine == "keras" else []
    for i, (file, how) in enumerate((f, h) for f in files for h in DAMAGES):
        copy = tmp_path / f"damaged-{i}"
        shutil.copytree(tmp_path / "killed", copy)
        damaged = copy / file.relative_to(tmp_path / "killed")
        damage(damaged, how)
        capsys.readouterr()
        assert main(["train", "--resume", str(copy)]) == 1, (file.name, how)
        one_error_line(capsys, str(damaged))
    _, engine_obj, _ = open_run(tmp_path / "killed", "best")  # the undamaged run still opens
    weights = tmp_path / "killed" / "weights" / f"best{WEIGHT_SUFFIX[engine]}"
    damage(weights, "truncated")
    with pytest.raises(ImgbenchError, match=str(weights)):
        engine_obj.load(weights)

"""The SQLite run index: rows mirror run directories, filters, removal, rebuild, concurrent writers."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest
import yaml

from imgbench.engines import WEIGHT_SUFFIX
from imgbench.errors import ImgbenchError
from imgbench.runs.index import RunIndex
from imgbench.runs.lock import LockHeldError


def fake_run(
    runs: Path,
    name: str,
    *,
    dataset="digits",
    model="mlp",
    engine="numpy",
    seed=0,
    study=None,
    accuracy: float | None = 0.9,
) -> Path:
    run = runs / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "dataset": dataset,
                "model": model,
                "engine": engine,
                "study": study,
                "train": {"seed": seed},
                "spec": {"name": model},
            }
        )
    )
    # The other files of a run: an index leaves out a run that lacks them (see imgbench.runs.health).
    (run / "env.json").write_text("{}")
    (run / "preprocess.json").write_text("{}")
    if accuracy is not None:
        (run / "history.csv").write_text("epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n")
        (run / "predictions.npz").write_bytes(b"")
        (run / "weights").mkdir()
        (run / "weights" / f"best{WEIGHT_SUFFIX[engine]}").write_bytes(b"")
        (run / "metrics.json").write_text(
            json.dumps(
                {
                    "dataset": dataset,
                    "accuracy": accuracy,
                    "f1_macro": accuracy - 0.01,
                    "param_count": 100,
                    "training_seconds": 1.5,
                    "epochs_trained": 3,
                }
            )
        )
    return run


def test_add_list_filter_show_and_remove(tmp_path):
    index = RunIndex(tmp_path)
    for i, (engine, model) in enumerate([("numpy", "mlp"), ("torch", "mlp"), ("torch", "cnn-tiny")]):
        index.add(fake_run(tmp_path, f"r{i}", engine=engine, model=model, study="s" if i else None))
    fake_run(tmp_path, "unfinished", accuracy=None)
    index.add(tmp_path / "unfinished")
    assert [r["name"] for r in index.list()] == ["r0", "r1", "r2", "unfinished"]
    assert [r["name"] for r in index.list(engine="torch")] == ["r1", "r2"]
    assert [r["name"] for r in index.list(engine="torch", model="mlp")] == ["r1"]
    assert [r["name"] for r in index.list(study="s")] == ["r1", "r2"]
    assert index.get("unfinished")["status"] == "incomplete"
    assert index.get("r1")["accuracy"] == 0.9 and index.get("r1")["param_count"] == 100
    index.add(tmp_path / "r1")  # re-adding replaces, never duplicates
    assert len(index.list()) == 4
    index.remove("r1")
    assert not (tmp_path / "r1").exists() and index.get("r1") is None
    with pytest.raises(ImgbenchError, match="no such run"):
        index.remove("../etc")
    with pytest.raises(ImgbenchError, match="not inside"):
        index.add(fake_run(tmp_path / "elsewhere", "x"))


def test_reindex_rebuilds_from_directories(tmp_path):
    for i in range(3):
        fake_run(tmp_path, f"r{i}", seed=i)
    index = RunIndex(tmp_path)
    assert index.reindex() == 3
    index.path.unlink()  # the index is disposable: the directories are the source of truth
    assert RunIndex(tmp_path).reindex() == 3
    assert [r["seed"] for r in RunIndex(tmp_path).list()] == [0, 1, 2]
    with sqlite3.connect(index.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _add_many(args):
    runs_dir, names = args
    index = RunIndex(runs_dir)
    for name in names:
        index.add(Path(runs_dir) / name)
    return len(names)


def test_concurrent_writers_from_several_processes(tmp_path):
    names = [f"run{i:03d}" for i in range(60)]
    for n in names:
        fake_run(tmp_path, n)
    chunks = [(str(tmp_path), names[i::4]) for i in range(4)]
    with ProcessPoolExecutor(4, mp_context=get_context("spawn")) as pool:
        assert sum(pool.map(_add_many, chunks)) == 60
    rows = RunIndex(tmp_path).list()
    assert sorted(r["name"] for r in rows) == names


def test_reindex_leaves_out_damaged_runs_with_a_warning(tmp_path):
    fake_run(tmp_path, "good")
    (fake_run(tmp_path, "torn-metrics") / "metrics.json").write_text('{"accuracy": 0.9')
    (fake_run(tmp_path, "bad-config") / "config.yaml").write_text("engine: [numpy\n")
    (fake_run(tmp_path, "no-predictions") / "predictions.npz").unlink()
    with pytest.warns(UserWarning) as caught:
        assert RunIndex(tmp_path).reindex() == 1
    said = " ".join(str(w.message) for w in caught)
    for name, problem in (("torn-metrics", "metrics.json: cannot read"), ("bad-config", "config.yaml: cannot read")):
        assert f"{tmp_path / name}/{problem}" in said
    assert f"{tmp_path / 'no-predictions'}: finished, but predictions.npz missing" in said
    assert [r["name"] for r in RunIndex(tmp_path).list()] == ["good"]


def test_queries_survive_a_damaged_or_missing_index_file(tmp_path):
    for i in range(2):
        fake_run(tmp_path, f"r{i}", seed=i)
    index = RunIndex(tmp_path)
    assert [r["name"] for r in index.list()] == ["r0", "r1"]  # no index file: read from the directories
    assert not index.path.exists()
    index.path.write_bytes(b"not a database" * 100)
    with pytest.warns(UserWarning, match="cannot be read"):
        assert index.get("r1")["seed"] == 1


def test_a_read_only_index_is_opened_immutable(tmp_path, monkeypatch):
    fake_run(tmp_path, "r0")
    RunIndex(tmp_path).reindex()
    monkeypatch.setattr("os.access", lambda path, mode, **kw: False)  # as on a read-only file system
    opened, real_connect = [], sqlite3.connect

    def connect(target, **kwargs):
        opened.append(str(target))
        return real_connect(target, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    assert [r["name"] for r in RunIndex(tmp_path).list()] == ["r0"]
    assert opened and all(t.endswith("?mode=ro&immutable=1") for t in opened)


def test_remove_refuses_a_run_another_process_owns(tmp_path):
    fake_run(tmp_path, "busy")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from imgbench.runs.lock import run_lock; "
            f"run_lock({str(tmp_path)!r}, 'busy').acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeldError, match=f"run {tmp_path / 'busy'} is in use by process {holder.pid}"):
            RunIndex(tmp_path).remove("busy")
        assert (tmp_path / "busy").is_dir()
    finally:
        holder.kill()
        holder.wait()
    RunIndex(tmp_path).remove("busy")  # the owner died: the OS released its lock
    assert not (tmp_path / "busy").exists()

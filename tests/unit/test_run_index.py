"""The SQLite run index: rows mirror run directories, filters, removal, rebuild, concurrent writers."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest
import yaml

from imgbench.errors import ImgbenchError
from imgbench.runs.index import RunIndex


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
    if accuracy is not None:
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

"""`compare --executor ray`: runs as Ray tasks, the same results as local worker processes, and a lost node healed.

Ray runs in this process's session (no dashboard, an 80 MB object store, no token authentication, its session
files in a short temporary folder: Unix socket paths may not exceed 107 bytes, which a pytest tmp_path would).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from imgbench.cli import main
from imgbench.errors import ImgbenchError
from imgbench.runs.health import FINISHED, run_state
from imgbench.studies.executors import open_executor
from imgbench.training.history import read_history

from .test_cli_data import assert_clean_error, run_cli

ray = pytest.importorskip("ray")

OBJECT_STORE = 80 * 2**20
STUDY = """
name: ray
seeds: [0, 1]
train: {epochs: 2, batch_size: 64}
datasets: [digits]
models: [mlp-small, cnn-tiny]
engines: [numpy]
"""
KEYS = sorted(f"digits-{m}-numpy-seed{s}" for m in ("mlp-small", "cnn-tiny") for s in (0, 1))


@pytest.fixture
def ray_env(monkeypatch):
    """Environment for a Ray started by a test; its session folder is removed afterwards."""
    folder = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", folder)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    yield folder
    if ray.is_initialized():
        ray.shutdown()
    shutil.rmtree(folder, ignore_errors=True)


def _accuracies(out: Path) -> dict[str, float]:
    return {p.parent.name: json.loads(p.read_text())["accuracy"] for p in sorted(out.glob("runs/*/metrics.json"))}


def _assert_complete_and_indexed_once(out: Path, keys: list[str]) -> None:
    dirs = sorted(p.name for p in (out / "runs").iterdir() if p.is_dir() and not p.name.startswith("."))
    assert dirs == keys  # no name-2 copies
    assert all(run_state(out / "runs" / d).status == FINISHED for d in dirs)
    listed = json.loads(run_cli("runs", "list", "--runs-dir", out / "runs", "--json").stdout)
    assert sorted(r["name"] for r in listed) == dirs and {r["status"] for r in listed} == {"finished"}


def _curves(run: Path) -> list[dict]:
    """A run's history without its timings."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in read_history(run / "history.csv")]


@pytest.mark.slow  # a local Ray (5-10 s to start here) and the same study twice: about a minute; CI runs -m slow
def test_ray_study_matches_local_worker_processes_bit_for_bit(tmp_path, ray_env, capsys):
    study = tmp_path / "ray.yaml"
    study.write_text(STUDY)
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert main(["compare", str(study), "--out", str(local), "--workers", "2", "--no-report", "--quiet"]) == 0
    ray.init(num_cpus=2, object_store_memory=OBJECT_STORE, include_dashboard=False)
    capsys.readouterr()
    assert main(["compare", str(study), "--out", str(on_ray), "--workers", "2", "--executor", "ray"]) == 0
    err = capsys.readouterr().err
    assert "4 runs, 0 already finished, 4 to run as Ray tasks" in err
    assert "1 node, 2 CPUs, 0 GPUs; 1 CPU per run" in err
    _assert_complete_and_indexed_once(on_ray, KEYS)
    assert _accuracies(on_ray) == _accuracies(local)  # the same runs, the same arithmetic
    for key in KEYS:  # each run had its share of the 2 CPUs, as a local worker does
        assert "threads: 1" in (on_ray / "runs" / key / "config.yaml").read_text()
        assert _curves(on_ray / "runs" / key) == _curves(local / "runs" / key)
    assert (on_ray / "report.html").exists()
    assert main(["compare", str(study), "--out", str(on_ray), "--executor", "ray", "--no-report"]) == 0
    assert "4 runs, 4 already finished, 0 to run" in capsys.readouterr().err


@pytest.mark.slow  # a local Ray and a four-trial search: about a minute; CI runs -m slow
def test_tune_on_ray_runs_every_trial_once_and_the_final_runs(tmp_path, ray_env, capsys):
    pytest.importorskip("optuna")
    from .test_tune import _space, _trials

    ray.init(num_cpus=2, object_store_memory=OBJECT_STORE, include_dashboard=False)
    out = tmp_path / "tune"
    argv = ["tune", str(_space(tmp_path)), "--out", str(out), "--trials", "4", "--final-seeds", "2"]
    assert main([*argv, "--workers", "2", "--executor", "ray"]) == 0
    err = capsys.readouterr().err
    assert "4 trials, 0 finished already, 4 to run as Ray tasks" in err and "1 CPU per run" in err
    rows = _trials(out)
    assert len(rows) == 4 and {r["state"] for r in rows} <= {"complete", "pruned"}
    for seed in (5, 6):  # the final runs, one per fresh seed, finished on Ray
        (final,) = out.glob(f"final/trial-*-seed{seed}")
        assert run_state(final).status == FINISHED and "threads: 1" in (final / "config.yaml").read_text()
    assert (out / "tuned.yaml").exists() and (out / "report.html").exists()


def test_executor_errors(tmp_path, monkeypatch):
    study = tmp_path / "ray.yaml"
    study.write_text(STUDY)
    assert_clean_error(run_cli("compare", study, "--executor", "dask"), "--executor must be one of local, ray")
    assert_clean_error(
        run_cli("compare", study, "--ray-address", "10.0.0.1:6379", "--out", tmp_path / "x"),
        "--ray-address 10.0.0.1:6379 applies only with --executor ray",
    )
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with (
        pytest.raises(
            ImgbenchError, match=r"--executor ray needs Ray, which is not installed: pip install 'imgbench\[ray\]'"
        ),
        open_executor("ray", 1),
    ):
        pass


def _lock_owner(runs: Path, key: str) -> int | None:
    """The process id the run's lock records (None while nobody holds it)."""
    try:
        return json.loads((runs / f".{key}.lock").read_text() or "{}").get("pid")
    except (OSError, ValueError):
        return None


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.slow  # a three-node Ray cluster and a study that loses a node: about a minute; CI runs -m slow
def test_a_run_lost_with_its_node_is_retried_and_resumes_without_training_twice(tmp_path, ray_env, capsys):
    from ray.cluster_utils import Cluster

    from imgbench.studies.compare import run_study
    from imgbench.studies.studyfile import load_study

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "object_store_memory": OBJECT_STORE, "include_dashboard": False},
    )
    try:
        nodes = [cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE) for _ in range(2)]
        ray.init(address=cluster.address)
        raylets = {n.all_processes["raylet"][0].process.pid: n for n in nodes}
        path = tmp_path / "ray.yaml"
        path.write_text(STUDY.replace("epochs: 2", "epochs: 12").replace("[0, 1]", "[0]"))
        keys = sorted(f"digits-{m}-numpy-seed0" for m in ("mlp-small", "cnn-tiny"))
        out, runs = tmp_path / "out", tmp_path / "out" / "runs"
        errors: list[BaseException] = []

        def study() -> None:
            try:
                run_study(load_study(path), out, workers=2, executor="ray", report=False)
            except BaseException as exc:
                errors.append(exc)

        driver = threading.Thread(target=study)
        driver.start()
        victim = None
        deadline = time.time() + 180
        while victim is None and time.time() < deadline and driver.is_alive():
            for key in keys:  # a run that committed an epoch and is still training, on one of the two nodes
                history = runs / key / "history.csv"
                pid = _lock_owner(runs, key)
                if history.exists() and not (runs / key / "metrics.json").exists() and pid:
                    try:
                        node = raylets.get(_parent(pid))
                    except OSError:
                        continue
                    if node is not None and 2 <= len(read_history(history)) <= 6:
                        victim = key, pid, node
                        break
            time.sleep(0.05)
        assert victim is not None, "no run was seen mid-way"
        key, pid, node = victim
        epochs_before = len(read_history(runs / key / "history.csv"))
        cluster.remove_node(node)
        driver.join(timeout=300)
        assert not driver.is_alive() and not errors, errors
        _assert_complete_and_indexed_once(out, keys)
        for k in keys:  # every epoch once: nothing trained twice, nothing lost
            assert [r["epoch"] for r in read_history(runs / k / "history.csv")] == list(range(1, 13))
        assert _lock_owner(runs, key) is None
        env = json.loads((runs / key / "metrics.json").read_text())
        assert env["epochs_trained"] == 12 and epochs_before < 12
        err = capsys.readouterr().err
        assert re.search(rf"\] {key} +resumed ", err), err  # the retried task resumed it
        assert not re.search(rf"\] {key} +trained ", err), err
    finally:
        ray.shutdown()
        cluster.shutdown()

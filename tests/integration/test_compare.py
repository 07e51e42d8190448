"""`imgbench compare`, `report` and `runs` end to end: presets, interrupted studies, workers, the browser check."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from imgbench.studies.documents.pdf import CHROMIUM_FLAGS, system_chromium

from .test_cli_data import assert_clean_error, run_cli

CHROMIUM = system_chromium()
SMALL_STUDY = """
name: small
seeds: [0, 1, 2]
train: {epochs: 20, batch_size: 64}
datasets: [digits]
models: [mlp-small, cnn-tiny]
engines: [numpy]
"""


def test_quick_preset_covers_3_engines_x_2_models_x_3_seeds(quick_study):
    out, proc, seconds = quick_study
    runs = sorted(p.name for p in (out / "runs").iterdir() if p.is_dir())
    assert len(runs) == 18
    for run in runs:
        assert (out / "runs" / run / "metrics.json").exists() and (out / "runs" / run / "predictions.npz").exists()
    md = (out / "report.md").read_text()
    # The report says which epoch's weights it scores (train.select; default last).
    assert "Weights scored: those of the last epoch (select: last)." in md
    assert "Weights scored: those of the last epoch (select: last)." in (out / "report.html").read_text()
    rows = [line for line in md.splitlines() if re.match(r"\| (mlp|cnn-tiny) / (numpy|torch|keras) \| 3 \|", line)]
    assert len(rows) == 6, md[:2000]
    for line in rows:  # every engine learns digits
        acc = float(re.search(r"\| ([\d.]+)% ± ", line).group(1))
        assert acc > 90, line
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 11  # curves, F1, trade-off, significance, 6 confusions, mistakes
    assert "McNemar" in html and "Holm-adjusted" in html and "Environment" in html
    assert "imgbench compare --preset quick" in html  # the command that reproduces it
    listed = json.loads(run_cli("runs", "list", "--runs-dir", out / "runs", "--json").stdout)
    assert sorted(r["name"] for r in listed) == runs and {r["study"] for r in listed} == {"quick"}
    print(f"quick preset: {seconds:.1f} s")


GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "quick_metrics.json"


def test_quick_study_results_are_unchanged(quick_study):
    """Every run of the quick study gives the recorded accuracy, macro F1, log loss and epochs, to the last digit.

    The record was made before the registry redesign (issue 13) and matched after it; a change that moves
    any of these numbers changes a result, and must say so and update the record (same machine type: the
    figures depend on the CPU's floating-point kernels).
    """
    out, _, _ = quick_study
    golden = json.loads(GOLDEN.read_text())
    found = {}
    for name in golden:
        metrics = json.loads((out / "runs" / name / "metrics.json").read_text())
        found[name] = {k: metrics[k] for k in golden[name]}
    assert found == golden


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("IMGBENCH_REQUIRE_BROWSER"),
    reason="Chromium is not installed (apt-get install chromium)",
)
def test_report_renders_in_headless_chromium_without_console_errors(quick_study, tmp_path):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "IMGBENCH_REQUIRE_BROWSER is set but chromium is not installed"
    out, _, _ = quick_study
    errors = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=list(CHROMIUM_FLAGS),
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((out / "report.html").as_uri(), wait_until="load")
            assert page.title() == "imgbench study: quick"
            assert page.locator("h2#digits + table tbody tr").count() == 6
            broken = page.evaluate(
                "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length"
            )
            assert broken == 0 and page.evaluate("document.images.length") >= 11
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert shot.stat().st_size > 50_000


def _finished(runs: Path) -> dict[str, float]:
    return {p.parent.name: p.stat().st_mtime_ns for p in runs.glob("*/metrics.json")}


def test_killed_study_completes_only_the_missing_runs(tmp_path):
    study = tmp_path / "small.yaml"
    study.write_text(SMALL_STUDY)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgbench", "compare", study, "--out", out, "--no-report"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while len(_finished(out / "runs")) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _finished(out / "runs")
    assert 2 <= len(before) < 6
    again = run_cli("compare", study, "--out", out)
    assert again.returncode == 0, again.stderr
    assert f"6 runs, {len(before)} already finished, {6 - len(before)} to run" in again.stderr
    after = _finished(out / "runs")
    assert len(after) == 6
    assert all(after[k] == v for k, v in before.items())  # finished runs were not touched
    listed = json.loads(run_cli("runs", "list", "--runs-dir", out / "runs", "--json").stdout)
    assert sorted(r["name"] for r in listed) == sorted(after)  # each run once
    assert (out / "report.html").exists()
    third = run_cli("compare", study, "--out", out, "--no-report")
    assert "6 runs, 6 already finished, 0 to run" in third.stderr


def test_two_workers_write_every_run_and_one_index(tmp_path):
    study = tmp_path / "small.yaml"
    study.write_text(SMALL_STUDY.replace("epochs: 20", "epochs: 2").replace("[0, 1, 2]", "[0, 1]"))
    proc = run_cli("compare", study, "--out", tmp_path / "out", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "in 2 worker processes" in proc.stderr
    rows = json.loads(run_cli("runs", "list", "--runs-dir", tmp_path / "out" / "runs", "--json").stdout)
    assert len(rows) == 4 and all(r["status"] == "finished" for r in rows)
    config = (tmp_path / "out" / "runs" / "digits-cnn-tiny-numpy-seed1" / "config.yaml").read_text()
    assert "threads: 1" in config  # each worker used its share of the 2 cores


def test_compare_and_report_errors(tmp_path):
    assert_clean_error(run_cli("compare", "--preset", "nope"), "unknown preset 'nope'")
    assert_clean_error(run_cli("compare"), "give a study file or --preset")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\ndatasets: [digits]\nmodels: [cnn-small]\nengines: [numpy]\n")
    assert_clean_error(run_cli("compare", bad, "--out", tmp_path / "b"), "does not fit")
    assert not (tmp_path / "b" / "runs").exists()  # nothing trained before the plan was checked
    assert_clean_error(run_cli("report", "--out", tmp_path / "r", tmp_path), "not a run directory")
    assert_clean_error(run_cli("report", "--study", tmp_path), "not a study directory")
    study = tmp_path / "small.yaml"
    study.write_text(SMALL_STUDY.replace("[0, 1, 2]", "[0]").replace("epochs: 20", "epochs: 1"))
    assert run_cli("compare", study, "--out", tmp_path / "s", "--no-report").returncode == 0
    assert_clean_error(run_cli("compare", study, "--out", tmp_path / "s", "--epochs", "3"), "choose another --out")
    assert_clean_error(run_cli("runs", "show", "nope", "--runs-dir", tmp_path / "s" / "runs"), "no run 'nope'")
    assert_clean_error(run_cli("runs", "list", "--runs-dir", tmp_path / "nowhere"), "no such runs directory")
    assert not (tmp_path / "nowhere").exists()
    proc = run_cli("runs", "rm", "digits-mlp-small-numpy-seed0", "--runs-dir", tmp_path / "s" / "runs")
    assert proc.returncode == 0 and not (tmp_path / "s" / "runs" / "digits-mlp-small-numpy-seed0").exists()


def test_report_from_run_directories(quick_study, tmp_path):
    out, _, _ = quick_study
    runs = [out / "runs" / f"digits-mlp-{e}-seed0" for e in ("numpy", "torch")]
    proc = run_cli("report", *runs, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "report.md").read_text()
    assert "| mlp / numpy | 1 |" in md and "bootstrap" in (tmp_path / "report.html").read_text()
    assert "imgbench train --config" in md  # how to reproduce each run


def test_ann_vs_cnn_preset_covers_both_datasets_with_reported_figures(tmp_path, shared_datasets):
    """A dry run of the preset (1 seed, a few steps): the table must cover both datasets and the classic figures."""
    proc = run_cli(
        "compare",
        "--preset",
        "ann-vs-cnn",
        "--root",
        shared_datasets,
        "--out",
        tmp_path,
        "--seeds",
        "0",
        "--epochs",
        "1",
        "--max-steps",
        "3",
    )
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "report.md").read_text()
    assert "## fashion-mnist" in md and "## cifar10-jpg" in md
    for label in ("ann-128k / keras", "cnn-125k / keras", "ann-256k / keras", "cnn-250k / keras"):
        assert f"| {label} | 1 |" in md
    assert "| ann-128k / keras | 88.00% |" in md and "| cnn-250k / keras | 48.00% |" in md
    assert "image-folder copy" in md  # says that the JPEG copy stood in for CIFAR-10
    # The point of the study: on each dataset both networks train with the same recipe, augmentation included.
    train = {
        config.parent.name: yaml.safe_load(config.read_text())["train"]
        for config in (tmp_path / "runs").glob("*/config.yaml")
    }
    for dataset, ann, cnn, policy in (
        ("fashion-mnist", "ann-128k", "cnn-125k", "flip"),
        ("cifar10-jpg", "ann-256k", "cnn-250k", "flip-shift"),
    ):
        a, c = train[f"{dataset}-{ann}-keras-seed0"], train[f"{dataset}-{cnn}-keras-seed0"]
        assert a == c and a["augment"] and a["augmentation"] == policy


# ---- crash safety: locks, workers that die with their parent, damaged runs that heal ------------------------------

CRASH_STUDY = """
name: crash
seeds: [0, 1, 2]
train: {epochs: 6, batch_size: 32}
datasets: [digits]
models: [mlp-small, cnn-tiny]
engines: [numpy]
"""
CRASH_KEYS = sorted(f"digits-{m}-numpy-seed{s}" for m in ("mlp-small", "cnn-tiny") for s in (0, 1, 2))


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _assert_study_complete(out: Path, keys: list[str]) -> None:
    """One finished, intact run directory per planned run (no name-2 copies) and one index row per directory."""
    from imgbench.runs.health import FINISHED, run_state

    dirs = sorted(p.name for p in (out / "runs").iterdir() if p.is_dir() and not p.name.startswith("."))
    assert dirs == keys
    assert [run_state(out / "runs" / d).status for d in dirs] == [FINISHED] * len(dirs)
    listed = json.loads(run_cli("runs", "list", "--runs-dir", out / "runs", "--json").stdout)
    assert sorted(r["name"] for r in listed) == dirs and {r["status"] for r in listed} == {"finished"}


@pytest.mark.slow  # several multi-process studies: minutes; CI runs -m slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker processes in /proc")
def test_kill_9_of_the_parent_takes_its_workers_and_the_rerun_completes(tmp_path):
    study = tmp_path / "crash.yaml"
    study.write_text(CRASH_STUDY)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgbench", "compare", study, "--out", out, "--workers", "2", "--no-report"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:  # until a run is finished and another is mid-way
        committed = len(list(out.glob("runs/*/checkpoint/progress.json")))
        if 1 <= len(_finished(out / "runs")) < committed:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the study ended before it could be killed"
    workers = _children(proc.pid)
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while any(_alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers), "worker processes outlived their parent"
    again = run_cli("compare", study, "--out", out, "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert "resumed" in again.stderr
    _assert_study_complete(out, CRASH_KEYS)
    assert (out / "report.html").exists()


@pytest.mark.slow  # three concurrent studies: minutes; CI runs -m slow
def test_two_compares_on_one_folder_one_trains_the_other_stops_and_wait_waits(tmp_path):
    study = tmp_path / "crash.yaml"
    study.write_text(CRASH_STUDY.replace("epochs: 6", "epochs: 2"))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "imgbench", "compare", study, "--out", out, "--no-report"]
    first = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    lock = out / "study.lock"
    deadline = time.time() + 120
    while time.time() < deadline and not (lock.exists() and '"pid"' in lock.read_text()):
        time.sleep(0.02)
    waiting = subprocess.Popen([*command, "--wait"], stderr=subprocess.PIPE, text=True)
    errors = [p.communicate(timeout=600)[1] for p in first]
    waited = waiting.communicate(timeout=600)[1]
    codes = sorted(p.returncode for p in first)
    assert codes == [0, 1], errors
    winner, loser = (0, 1) if first[0].returncode == 0 else (1, 0)
    assert errors[loser].startswith(f"imgbench: error: study folder {out} is in use by process {first[winner].pid}")
    assert "--wait" in errors[loser] and errors[loser].count("\n") == 1  # it trained nothing
    assert "6 runs, 0 already finished, 6 to run" in errors[winner]
    assert waiting.returncode == 0, waited
    assert f"waiting: {out} is in use by process {first[winner].pid}" in waited
    assert "6 runs, 6 already finished, 0 to run" in waited
    _assert_study_complete(out, CRASH_KEYS)


@pytest.mark.slow  # two studies and a reindex: minutes; CI runs -m slow
def test_damaged_runs_are_left_out_of_the_index_and_healed_by_the_next_compare(tmp_path):
    study = tmp_path / "crash.yaml"
    study.write_text(CRASH_STUDY.replace("epochs: 6", "epochs: 1").replace("[0, 1, 2]", "[0]"))
    out = tmp_path / "out"
    assert run_cli("compare", study, "--out", out, "--no-report").returncode == 0
    keys = ["digits-cnn-tiny-numpy-seed0", "digits-mlp-small-numpy-seed0"]
    runs = out / "runs"
    (runs / keys[0] / "metrics.json").write_text('{"accuracy": 0.9')  # torn: unreadable
    (runs / keys[1] / "config.yaml").unlink()
    reindexed = run_cli("runs", "reindex", "--runs-dir", runs)
    assert reindexed.returncode == 0 and "0 runs indexed" in reindexed.stdout
    assert f"left out of the index: {runs / keys[0] / 'metrics.json'}: cannot read" in reindexed.stderr
    again = run_cli("compare", study, "--out", out)
    assert again.returncode == 0, again.stderr
    assert "2 runs, 0 already finished, 2 to run" in again.stderr
    assert f"note: {runs / keys[0] / 'metrics.json'}: cannot read" in again.stderr and "; resumed" in again.stderr
    assert f"note: {runs / keys[1]}: no config.yaml; trained again" in again.stderr
    _assert_study_complete(out, keys)

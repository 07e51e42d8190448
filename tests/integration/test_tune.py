"""`imgbench tune` end to end on digits: pruning, the report, tuned.yaml, a kill -9 and its rerun, bad spaces."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imgbench.kinds import SettingError
from imgbench.training.history import read_history
from imgbench.tune.presets import PRESETS, chosen_space
from imgbench.tune.space import load_space

from .test_cli_data import assert_clean_error, run_cli

pytest.importorskip("optuna")

# lr 30 diverges: its trials lag the good ones at the first epoch and the median pruner stops them.
# Seed 4: the sampler's first suggestions are lr 0.005, 0.005, 30, 30, so two good trials complete first.
SPACE = """
name: digits-small
dataset: digits
model: mlp-small
engine: numpy
seed: 4
train: {{epochs: {epochs}, batch_size: 64}}
pruner: {pruner}
space:
  train.lr: {{choices: [0.005, 30.0]}}
  train.label_smoothing: {{low: 0.0, high: 0.2}}
  spec.dense1.units: {{low: 16, high: 128, step: 16}}
"""


def _space(tmp_path: Path, epochs: int = 3, pruner: str = "{type: median, startup_trials: 2, warmup_epochs: 0}"):
    path = tmp_path / "space.yaml"
    path.write_text(SPACE.format(epochs=epochs, pruner=pruner))
    return path


def _trials(out: Path) -> list[dict]:
    with open(out / "trials.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _study(out: Path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return optuna.load_study(
        study_name="digits-small", storage=JournalStorage(JournalFileBackend(str(out / "journal.log")))
    )


def test_tune_prunes_reports_and_writes_a_config_that_reruns_the_best_trial(tmp_path):
    out = tmp_path / "tune"
    proc = run_cli("tune", _space(tmp_path), "--out", out, "--trials", 4, "--final-seeds", 2)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr  # matplotlib declining a tight layout is not the user's concern
    trials = _trials(out)
    states = [t["state"] for t in trials]
    assert len(trials) == 4 and "pruned" in states and "complete" in states, trials
    for t in trials:
        run = out / t["run"]
        assert (run / "config.yaml").exists() and (run / "history.csv").exists()  # every trial is a run directory
        # A pruned run keeps its committed epochs but never reaches the end (nor the test split).
        assert (run / "metrics.json").exists() == (t["state"] == "complete"), t
        if t["state"] == "complete":  # scored on the validation split: the test split is for the final runs
            metrics = json.loads((run / "metrics.json").read_text())
            assert metrics["split"] == "val" and metrics["accuracy"] == pytest.approx(float(t["value"])), t
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert pruned and all(int(t["epochs"]) < 3 for t in pruned)
    assert all(t["state"] == "pruned" for t in trials if t["train.lr"] == "30.0")
    best = max((t for t in trials if t["state"] == "complete"), key=lambda t: float(t["value"]))
    assert best["train.lr"] == "0.005" and float(best["value"]) > 0.8
    # The final runs: fresh seeds of the best settings, each evaluated once on the test split.
    finals = sorted(p.name for p in (out / "final").iterdir() if p.is_dir())
    assert finals == [f"trial-{int(best['number']):04d}-seed{s}" for s in (5, 6)]
    md = (out / "report.md").read_text()
    # labelled as tuned, so a report beside untuned runs of the same model keeps them apart
    assert "2 pruned" in md and "| mlp-small / numpy / tuned | 2 |" in md and "n = 2 seeds x " in md, md
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4 and "<script" not in html and 'src="http' not in html
    assert f"<code>trials/trial-{int(best['number']):04d}</code>" in html
    # tuned.yaml reruns the best trial exactly: same settings and seed, so the same training, epoch by epoch.
    again = run_cli("train", "--config", out / "tuned.yaml", "--runs-dir", tmp_path / "runs", "--quiet")
    assert again.returncode == 0, again.stderr
    (rerun,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]

    def learning(run: Path) -> list[tuple]:
        return [(r["epoch"], r["train_loss"], r["val_loss"], r["val_acc"]) for r in read_history(run / "history.csv")]

    assert learning(rerun) == learning(out / best["run"])


def test_kill_9_during_tune_then_rerun_counts_every_trial_once(tmp_path):
    space = _space(tmp_path, epochs=15, pruner="none")
    out = tmp_path / "tune"
    command = [sys.executable, "-m", "imgbench", "tune", space, "--out", out, "--trials", 4, "--final-seeds", 1]
    proc = subprocess.Popen(list(map(str, command)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    second = out / "trials" / "trial-0001"
    while time.time() < deadline and proc.poll() is None:  # until trial 0 is told and trial 1 is mid-way
        if (second / "checkpoint" / "progress.json").exists() and not (second / "metrics.json").exists():
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the search ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {t.number: t for t in _study(out).trials}
    assert before[0].state.name == "COMPLETE" and before[1].state.name == "RUNNING"
    best_before = before[0].value

    again = run_cli("tune", space, "--out", out, "--trials", 4, "--final-seeds", 1, "--workers", 2)
    assert again.returncode == 0, again.stderr
    assert "4 trials, 1 finished already, 3 to run in 2 worker processes" in again.stderr
    assert "trial 1: interrupted; marked failed" in again.stderr
    after = _study(out).trials
    counted = [t for t in after if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(counted) == 4 and after[0].value == best_before  # the finished trial is kept, not run again
    assert after[1].state.name == "FAIL"
    (retry,) = [t for t in after if t.user_attrs.get("retry_of") == 1]
    assert retry.params == before[1].params and retry.state.name == "COMPLETE"
    assert _study(out).best_value == max(t.value for t in counted) >= best_before
    rows = _trials(out)
    assert [r["state"] for r in rows].count("failed") == 1 and len(rows) == 5
    assert (out / "trials" / "trial-0001").is_dir()  # the interrupted run is kept, marked failed in the index
    config = (out / "trials" / f"trial-{retry.number:04d}" / "config.yaml").read_text()
    assert f"threads: {max(1, (os.cpu_count() or 1) // 2)}" in config  # each worker used its share of the cores


BAD_SPACES = [
    ("train.lrr: {low: 0.001, high: 0.1}", ["space: train.lrr", "did you mean 'train.lr'"]),
    ("lr: {low: 0.001, high: 0.1}", ["space: lr", "'train.lr'"]),
    ("train.lr: {low: 0.1, high: 0.001}", ["space: train.lr", "low must be below high"]),
    ("train.weight_decay: {low: 0.0, high: 0.1, log: true}", ["space: train.weight_decay", "log scale needs low > 0"]),
    ("train.lr: {low: 0.0, high: 0.1}", ["space: train.lr", "train.lr low must be a finite number > 0"]),
    ("train.epochs: {low: 1.5, high: 4}", ["space: train.epochs", "must be an integer"]),
    ("train.optimizer: {low: 1, high: 2}", ["space: train.optimizer", "takes a list of choices"]),
    ("train.optimizer: {choices: [adam, adamm]}", ["space: train.optimizer", "did you mean 'adam'"]),
    ("train.seed: {low: 0, high: 9}", ["space: train.seed", "cannot be searched"]),
    ("train.lr: {low: 0.001, high: 0.1, step: 0.01, log: true}", ["space: train.lr", "'log' or 'step'"]),
    ("train.warmup_steps: {low: 0, high: 10}", ["space: with train.warmup_steps", "cosine"]),
    ("spec.dense1: {low: 1, high: 2}", ["space: spec.dense1", "spec.<layer>.<key>"]),
]


@pytest.mark.parametrize(("entry", "needles"), BAD_SPACES, ids=[e.split(":")[0] for e, _ in BAD_SPACES])
def test_bad_space_is_one_setting_error_naming_the_file_and_key(tmp_path, entry, needles):
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\ndataset: digits\nmodel: mlp-small\nspace:\n  {entry}\n")
    with pytest.raises(SettingError) as info:
        load_space(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    for needle in needles:
        assert needle in message, message


def test_bad_space_on_the_command_line_and_a_knob_that_does_not_fit(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ndataset: digits\nmodel: mlp-small\nspace:\n  spec.dense9.units: {low: 8, high: 16}\n")
    assert_clean_error(run_cli("tune", path, "--out", tmp_path / "out"), str(path), "spec.dense9.units", "dense1")
    path.write_text("name: bad\ndataset: digits\nspace:\n  train.epochs: {low: 1, high: 2}\n  nope: 3\n")
    assert_clean_error(run_cli("tune", path), str(path), "space: nope")
    assert_clean_error(run_cli("tune", "--preset", "nope"), "unknown preset 'nope'")
    listed = run_cli("tune", "--list-presets")
    assert listed.returncode == 0 and "cnn-125k-fashion" in listed.stdout


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_passes_the_rules_at_every_corner_of_its_space(name):
    """A preset is checked like a user's file (every extreme of its space against check_run, the engines'
    own rules included), so one that cannot train fails here, not an hour into a search."""
    space = chosen_space(preset_name=name)
    assert space.params and space.description


def test_a_space_that_an_engine_cannot_train_is_refused_before_any_trial(tmp_path):
    path = tmp_path / "decay.yaml"
    path.write_text(
        "name: decay\ndataset: digits\nmodel: mlp-small\nengine: keras\n"
        "space:\n  train.weight_decay: {low: 1.0e-6, high: 1.0e-3, log: true}\n"
    )
    proc = run_cli("tune", path, "--out", tmp_path / "out")
    assert_clean_error(proc, str(path), "only with optimizer adamw")
    assert not (tmp_path / "out").exists()

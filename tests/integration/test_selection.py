"""`train.select`: every engine keeps and evaluates the epoch each rule names, the same way."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import yaml

from imgbench.runs.runner import resume_run, train_run
from imgbench.settings import RunSettings
from imgbench.training import Callback

from .test_cli_data import run_cli


class AccuracyProbe(Callback):
    """Scores the test split after every epoch, beside the epoch's validation figures."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_train_begin(self, loop) -> None:
        self.loop, self.X = loop, loop.normalizer(loop.ds.X_test)

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        hits = np.argmax(self.loop.engine.predict_logits(self.X), axis=1) == self.loop.ds.y_test
        self.rows.append({"val_acc": row["val_acc"], "val_loss": row["val_loss"], "test_acc": float(hits.mean())})


def expected_epoch(rows: list[dict], rule: str) -> int:
    """Written independently of the run writer: the first epoch with the extreme value, or the last."""
    if rule == "last":
        return len(rows) - 1
    values = [r["val_acc"] if rule == "best-val-acc" else -r["val_loss"] for r in rows]
    return int(np.argmax(values))  # argmax takes the first of equal values, as a strict improvement does


@pytest.mark.parametrize("engine", ["numpy", "torch", "keras"])
def test_each_rule_evaluates_the_epoch_it_names(tmp_path, engine):
    accuracies = {}
    for rule in ("best-val-acc", "best-val-loss", "last"):
        probe = AccuracyProbe()
        settings = RunSettings(
            dataset="digits",
            model="mlp-small",
            engine=engine,
            runs_dir=str(tmp_path),
            name=rule,
            quiet=True,
            train={"epochs": 5, "lr": 0.05, "select": rule},
        )
        run = train_run(settings, extra_callbacks=[probe])
        metrics = json.loads((run / "metrics.json").read_text())
        picked = expected_epoch(probe.rows, rule)
        assert metrics["accuracy"] == pytest.approx(probe.rows[picked]["test_acc"], abs=1e-12), (rule, probe.rows)
        assert (
            json.loads((run / "checkpoint" / "progress.json").read_text())["monitor"]
            == {
                "best-val-acc": "val_acc",
                "best-val-loss": "val_loss",
                "last": None,
            }[rule]
        )
        accuracies[rule] = [r["test_acc"] for r in probe.rows]
        if rule == "last":  # the kept weights are the last ones: one file under two names
            suffix = next((run / "weights").iterdir()).name.partition(".")[2]
            assert os.path.samefile(run / "weights" / f"best.{suffix}", run / "weights" / f"last.{suffix}")
    # The rule chooses what is evaluated, never how the run trains.
    assert accuracies["best-val-acc"] == accuracies["best-val-loss"] == accuracies["last"]


def test_a_run_from_before_select_keeps_its_rule_when_resumed(tmp_path):
    settings = RunSettings(
        dataset="digits", model="mlp-small", runs_dir=str(tmp_path), name="old", quiet=True, train={"epochs": 3}
    )
    settings.train.max_steps = 30  # stop inside epoch 2: a run to resume
    run = train_run(settings)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["train"].pop("select")  # as written by imgbench before train.select existed
    config["train"]["max_steps"] = 0
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "metrics.json").unlink()
    resume_run(run)
    assert json.loads((run / "checkpoint" / "progress.json").read_text())["monitor"] == "val_acc"


def test_select_in_a_study_file_and_on_the_command_line(tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text(
        "name: sel\ndatasets: [digits]\nmodels: [mlp-small]\nengines: [numpy]\nseeds: [0]\n"
        "train: {epochs: 2, select: best-val-loss}\n"
    )
    proc = run_cli("compare", study, "--out", tmp_path / "study", "--no-report", "--quiet")
    assert proc.returncode == 0, proc.stderr
    config = (tmp_path / "study" / "runs" / "digits-mlp-small-numpy-seed0" / "config.yaml").read_text()
    assert "select: best-val-loss" in config

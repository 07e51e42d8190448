"""A study whose runs start from other runs of the study (issue 16's transfer preset, in small): a pretraining
group, a small labelled subset trained from scratch, and the same subset fine-tuned seed for seed."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from imgbench.evaluation import compare_groups, holm_adjust
from imgbench.studies.presets import preset
from imgbench.studies.report_records import group_runs, load_records
from imgbench.studies.studyfile import parse_study, plan_runs

from .test_cli_data import assert_clean_error, run_cli

STUDY = """
name: small-transfer
seeds: [0, 1]
train: {epochs: 2, batch_size: 32}
groups:
  - {datasets: [digits@5], models: [mlp-small], engines: [numpy], train: {epochs: 6, batch_size: 16}}
  - datasets: [digits@5]
    models: [mlp-small]
    engines: [numpy]
    train: {epochs: 6, batch_size: 16}
    settings: {init_from: "digits-mlp-small-numpy-seed{seed}", new_head: true}
  - {datasets: [digits], models: [mlp-small], engines: [numpy]}
"""


def _config(run):
    return yaml.safe_load((run / "config.yaml").read_text())


def test_fine_tuned_runs_start_from_their_seeds_pretrained_run_after_it_finished(tmp_path):
    (tmp_path / "study.yaml").write_text(STUDY)
    out = tmp_path / "out"
    proc = run_cli("compare", tmp_path / "study.yaml", "--out", out, "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    runs = out / "runs"
    names = sorted(p.name for p in runs.iterdir() if p.is_dir())
    assert names == [
        "digits-mlp-small-numpy-seed0",
        "digits-mlp-small-numpy-seed1",
        "digits@5-mlp-small-numpy-seed0",
        "digits@5-mlp-small-numpy-seed1",
        "digits@5-mlp-small-numpy-transfer-seed0",
        "digits@5-mlp-small-numpy-transfer-seed1",
    ]
    for seed in (0, 1):
        source = runs / f"digits-mlp-small-numpy-seed{seed}"
        tuned = runs / f"digits@5-mlp-small-numpy-transfer-seed{seed}"
        config = _config(tuned)
        assert config["init_from"] == str(source.resolve()) and config["variant"] == "transfer"
        assert config["new_head"] is True and config["dataset"] == "digits@5"
        # listed after the group that comes later in the file: it waited for its source to finish
        assert (source / "metrics.json").stat().st_mtime_ns <= (tuned / "config.yaml").stat().st_mtime_ns
        assert _config(runs / f"digits@5-mlp-small-numpy-seed{seed}").get("init_from") is None
    md = (out / "report.md").read_text()
    assert "| mlp-small / numpy / transfer |" in md and "## digits@5" in md
    assert "mlp-small / numpy | mlp-small / numpy / transfer" in md  # compared with training from scratch
    again = run_cli("compare", tmp_path / "study.yaml", "--out", out)
    assert again.returncode == 0 and "6 already finished, 0 to run" in again.stderr, again.stderr
    # The same folder asked for fine-tuning from elsewhere is another study, not these runs.
    (tmp_path / "other.yaml").write_text(STUDY.replace("new_head: true", "new_head: true, freeze: [dense1]"))
    assert_clean_error(run_cli("compare", tmp_path / "other.yaml", "--out", out), "holds another study")


@pytest.mark.parametrize(
    "init_from,needle",
    [
        ("digits-mlp-small-numpy-seed{seed}-typo", "expected a run of this study"),
        ("digits-{model}-seed{seed}", "'{seed}' is the only placeholder"),
    ],
)
def test_a_bad_reference_is_one_clear_error_before_anything_trains(tmp_path, init_from, needle):
    (tmp_path / "study.yaml").write_text(STUDY.replace("digits-mlp-small-numpy-seed{seed}", init_from))
    proc = run_cli("compare", tmp_path / "study.yaml", "--out", tmp_path / "out")
    assert_clean_error(proc, needle)
    assert not (tmp_path / "out" / "runs").exists() or not any((tmp_path / "out" / "runs").iterdir())


def test_each_fine_tuned_run_is_planned_after_its_own_seeds_source_with_the_same_training_as_its_twin(tmp_path):
    planned, _ = plan_runs(parse_study(yaml.safe_load(STUDY)), runs_dir=tmp_path)
    tuned = [p for p in planned if p.after is not None]
    scratch = [p for p in planned if p.settings.variant is None and "@" in p.settings.dataset]
    assert len(tuned) == len(scratch) == 2
    for p in tuned:
        seed = p.settings.train.seed
        assert p.after == f"digits-mlp-small-numpy-seed{seed}" and p.settings.init_from == str(tmp_path / p.after)
        twin = next(s for s in scratch if s.settings.train.seed == seed)
        assert twin.settings.train == p.settings.train and twin.settings.dataset == p.settings.dataset


def test_the_transfer_preset_pairs_every_fine_tuned_run_with_its_seeds_pretrained_run(tmp_path):
    planned, _ = plan_runs(preset("transfer"), runs_dir=tmp_path)
    tuned = [p for p in planned if p.after is not None]
    scratch = [p for p in planned if p.settings.variant is None and p.settings.dataset == "mnist[5-9]@5"]
    sources = {p.key for p in planned if p.settings.dataset == "mnist[0-4]"}
    assert len(tuned) == len(scratch) == len(sources) == 3
    for p in tuned:
        seed = p.settings.train.seed
        assert p.after == f"mnist.0-4-cnn-small-torch-seed{seed}" and p.after in sources
        assert p.settings.init_from == str(tmp_path / p.after) and p.settings.new_head
        twin = next(s for s in scratch if s.settings.train.seed == seed)
        assert twin.settings.train == p.settings.train and twin.settings.dataset == p.settings.dataset


@pytest.mark.slow
def test_the_transfer_preset_fine_tuning_beats_training_from_scratch(tmp_path, shared_datasets):
    """Issue 16's acceptance: at least 5 points better on the small subset, Holm-adjusted McNemar p < 0.01 for
    every seed pair (about 2 minutes)."""
    out = tmp_path / "transfer"
    proc = run_cli("compare", "--preset", "transfer", "--root", shared_datasets, "--out", out, "--no-report")
    assert proc.returncode == 0, proc.stderr
    records, _ = load_records(sorted(p for p in (out / "runs").iterdir() if p.is_dir()))
    groups = {g.label: g for g in group_runs(records)["mnist.5-9@5"]}
    scratch, tuned = groups["cnn-small / torch"], groups["cnn-small / torch / transfer"]
    gain = np.mean(tuned.values("accuracy")) - np.mean(scratch.values("accuracy"))
    assert gain >= 0.05, (tuned.values("accuracy"), scratch.values("accuracy"))
    (c,) = compare_groups({scratch.label: scratch.correct(), tuned.label: tuned.correct()})
    assert c["paired"] and [m["seed_a"] for m in c["mcnemar"]] == [0, 1, 2]
    adjusted = holm_adjust([m["p_value"] for m in c["mcnemar"]])  # McNemar per seed pair, Holm across the seeds
    assert max(adjusted) < 0.01, (c["mcnemar"], adjusted)

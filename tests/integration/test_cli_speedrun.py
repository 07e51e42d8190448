"""``imgbench speedrun`` end to end on a small generated image folder: the run directory, its listing, its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from .test_cli_data import assert_clean_error, run_cli

pytest.importorskip("torch")


def _folder(root, size=32, per_class=20):
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, name in enumerate(("red", "green", "blue")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 120, (size, size, 3))
            pixels[..., k] += 120
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.mark.slow  # about 25 s: a training, its test-time-augmented scoring and three more commands
def test_speedrun_writes_a_finished_run_that_runs_list_shows(tmp_path):
    images = _folder(tmp_path / "imgs")
    runs = tmp_path / "runs"
    proc = run_cli("speedrun", "--dataset", f"folder:{images}", "--epochs", "2", "--runs-dir", runs, "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    run = runs / "imgs-speedrun-torch-seed3"
    assert "test accuracy" in proc.stderr and str(run) in proc.stderr
    for name in ("config.yaml", "env.json", "preprocess.json", "history.csv", "predictions.npz", "weights/best.pt"):
        assert (run / name).is_file(), name
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["recipe"] == "cifar10-speedrun" and config["train"]["seed"] == 3
    assert config["speedrun"]["epochs"] == 2 and config["dataset"] == f"folder:{images}"
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 2
    metrics = json.loads((run / "metrics.json").read_text())
    with np.load(run / "predictions.npz") as p:
        y, probs = p["y_true"], p["probs"]
    assert len(y) == metrics["num_examples"] == 12  # the folder's 20% test split of 60 images
    assert metrics["accuracy"] == pytest.approx(float((probs.argmax(1) == y).mean()))
    assert 0 <= metrics["accuracy_without_tta"] <= 1 and metrics["tta_level"] == 2
    assert metrics["param_count"] > metrics["trainable_param_count"] > 1_900_000  # the whitening filters are fixed
    assert metrics["epochs_trained"] == 2 and metrics["training_seconds"] > 0
    listed = run_cli("runs", "list", "--runs-dir", runs)
    assert listed.returncode == 0, listed.stderr
    assert "imgs-speedrun-torch-seed3" in listed.stdout and "speedrun-net" in listed.stdout
    # commands that rebuild a zoo model say why they cannot open it
    assert_clean_error(run_cli("evaluate", run), "cifar10-speedrun recipe", "metrics.json")


def test_speedrun_rejects_images_the_network_cannot_take_and_leaves_no_run(tmp_path):
    images = _folder(tmp_path / "imgs", size=64, per_class=4)
    runs = tmp_path / "runs"
    proc = run_cli("speedrun", "--dataset", f"folder:{images}", "--runs-dir", runs)
    assert_clean_error(proc, "25 to 47 pixels", "64x64", "--image-size 32")
    assert not runs.exists() or not any(runs.glob("imgs-*"))


@pytest.mark.parametrize(("flag", "value"), [("--epochs", "0"), ("--tta-level", "3"), ("--precision", "fp16")])
def test_speedrun_rejects_bad_settings_before_loading_anything(tmp_path, flag, value):
    proc = run_cli("speedrun", "--dataset", f"folder:{tmp_path / 'missing'}", flag, value)
    assert_clean_error(proc, flag)

"""Issue 17's speed targets on these 2 cores: the ``mnist-speedrun`` preset reaches 99% test accuracy within
10 s of training with the PyTorch engine and within 60 s with the NumPy engine (means over its 3 seeds), and
``imgbench speedrun`` reaches 93% on the CIFAR-10 JPEG copy within 60 minutes of training.

Timings need a quiet machine, so these are ``long`` tests (``python -m pytest -m long``), not CI's.  The
README's table comes from ``python benchmarks/time_to_accuracy.py``, which trains the same preset.
"""

from __future__ import annotations

import json
import statistics

import pytest

from .test_cli_data import run_cli

# engine: the most training seconds allowed for the preset's 99% (None: measured, no time target)
TARGET_SECONDS = {"torch": 10.0, "numpy": 60.0, "keras": None}


@pytest.mark.long
def test_mnist_speedrun_reaches_99_percent_within_the_time_targets(tmp_path, shared_datasets):
    out = tmp_path / "out"
    proc = run_cli("compare", "--preset", "mnist-speedrun", "--root", shared_datasets, "--out", out, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    for engine, limit in TARGET_SECONDS.items():
        metrics = [
            json.loads(p.read_text()) for p in sorted(out.glob(f"runs/mnist-cnn-small-{engine}-seed*/metrics.json"))
        ]
        assert len(metrics) == 3, engine
        accuracy = statistics.mean(m["accuracy"] for m in metrics)
        seconds = statistics.mean(m["training_seconds"] for m in metrics)
        print(f"{engine}: {accuracy:.4f} in {seconds:.1f} s of training (mean of 3 seeds)")
        assert accuracy >= 0.99, (engine, accuracy)
        if limit is not None:
            assert seconds <= limit, (engine, seconds)


@pytest.mark.long
@pytest.mark.xfail(
    strict=True, reason="issue 17's 93% is not met yet: 91.29% in 42.3 min (README, 'CIFAR-10 speed run')"
)
def test_cifar10_speedrun_reaches_93_percent_within_an_hour(tmp_path, shared_datasets):
    cifar = f"folder:{shared_datasets / 'cifar10-jpg'}"
    proc = run_cli("speedrun", "--dataset", cifar, "--runs-dir", tmp_path, "--quiet", timeout=5400)
    assert proc.returncode == 0, proc.stderr
    (run,) = tmp_path.glob("cifar10-jpg-speedrun-torch-seed0")
    metrics = json.loads((run / "metrics.json").read_text())
    print(
        f"{metrics['accuracy']:.4f} ({metrics['accuracy_without_tta']:.4f} without test-time augmentation) in "
        f"{metrics['training_seconds']:.0f} s of training"
    )
    assert metrics["accuracy"] >= 0.93
    assert metrics["training_seconds"] <= 3600

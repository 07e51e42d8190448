"""Issue 17's MNIST speed targets on these 2 cores: the ``mnist-speedrun`` preset reaches 99% test accuracy within
10 s of training with the PyTorch engine and within 60 s with the NumPy engine (means over its 3 seeds).

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

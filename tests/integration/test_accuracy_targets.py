"""Issue 4's accuracy targets on the real datasets, with the PyTorch engine (augmentation, batch 128).

These take 10-30 minutes each on 2 cores, longer than CI's slow suite can
hold, so they carry their own marker: ``python -m pytest -m long``.  The
README's table comes from exactly these commands.
"""

from __future__ import annotations

import json

import pytest

from .test_cli_data import run_cli

TARGETS = [
    # dataset, model, epochs, floor
    ("mnist", "vgg-small", 8, 0.994),
    ("fashion-mnist", "vgg-small", 10, 0.930),
    ("cifar10-jpg", "resnet-small", 25, 0.85),
]


@pytest.mark.long
@pytest.mark.parametrize("dataset,model,epochs,floor", TARGETS, ids=[t[0] for t in TARGETS])
def test_accuracy_target(tmp_path, shared_datasets, dataset, model, epochs, floor):
    data = f"folder:{shared_datasets / dataset}" if dataset == "cifar10-jpg" else dataset
    proc = run_cli("train", "--dataset", data, "--root", shared_datasets, "--model", model, "--engine", "torch",
                   "--epochs", epochs, "--augment", "--batch-size", 128, "--runs-dir", tmp_path, "--name", "r",
                   "--quiet", timeout=3600)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    print(f"{dataset} {model}: {metrics['accuracy']:.4f} in {metrics['training_seconds']:.0f} s")
    assert metrics["accuracy"] >= floor

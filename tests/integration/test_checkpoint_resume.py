"""For every engine: training 2 epochs straight equals 1 epoch, checkpoint, restore into a new engine, 1 more."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from imgbench.data import load_dataset
from imgbench.engines import WEIGHT_SUFFIX, create_engine
from imgbench.specs import build_spec
from imgbench.training import Callback, TrainConfig, TrainingLoop


class StopAfterFirstEpoch(Callback):
    """Simulates an interruption at an epoch boundary without changing the schedule."""

    def on_epoch_end(self, epoch, row):
        self.stop_training = True


@pytest.mark.parametrize("engine_name", ["numpy", "torch", "keras"])
def test_checkpoint_resume_equals_uninterrupted(tmp_path, engine_name):
    pytest.importorskip({"numpy": "numpy", "torch": "torch", "keras": "keras"}[engine_name])
    ds = load_dataset("digits")
    spec = build_spec("mlp-small", ds.image_shape, ds.num_classes)
    cfg = TrainConfig(epochs=2, batch_size=64)

    straight = create_engine(engine_name, spec, seed=0, lr=cfg.lr, device="cpu")
    TrainingLoop(straight, ds, cfg).run()

    first = create_engine(engine_name, spec, seed=0, lr=cfg.lr, device="cpu")
    loop = TrainingLoop(first, ds, cfg, [StopAfterFirstEpoch()])
    assert len(loop.run().rows) == 1
    path = tmp_path / f"state{WEIGHT_SUFFIX[engine_name]}"
    first.save_checkpoint(path)
    resumed = create_engine(engine_name, spec, seed=0, lr=cfg.lr, device="cpu")
    resumed.load_checkpoint(path)
    TrainingLoop(resumed, ds, cfg, normalizer=loop.normalizer).run(start_epoch=1)

    a, b = straight.state_dict(), resumed.state_dict()
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-4, atol=1e-5, err_msg=k)


@pytest.mark.parametrize("engine_name", ["numpy", "torch", "keras"])
def test_a_run_written_before_epoch_folders_still_resumes_exactly(tmp_path, monkeypatch, engine_name):
    """The old layout: checkpoint/state.* (+ optimizer.npz) beside a progress.json that names no folder.

    It resumes from those files, then continues in the new layout, with the uninterrupted run's results.
    """
    from imgbench.runs.runner import resume_run, train_run
    from imgbench.training.checkpoint import PROGRESS

    from .test_crash_safety import SimulatedKill, assert_clean, assert_same_results, kill_switch, results, settings_for

    if engine_name != "numpy":
        pytest.importorskip(engine_name)
    expected = results(train_run(settings_for(engine_name, tmp_path, "reference")))
    with kill_switch(monkeypatch, 1, 2), pytest.raises(SimulatedKill):  # epoch 1 committed, then killed
        train_run(settings_for(engine_name, tmp_path, "old"))
    checkpoint = tmp_path / "old" / "checkpoint"
    folder = checkpoint / "epoch-0001"
    for state in folder.glob("state*"):
        state.rename(checkpoint / state.name)
    if (folder / "optimizer.npz").exists():
        (folder / "optimizer.npz").rename(checkpoint / "optimizer.npz")
    progress = json.loads((checkpoint / PROGRESS).read_text())
    del progress["folder"]
    (checkpoint / PROGRESS).write_text(json.dumps(progress))
    shutil.rmtree(folder)  # weights/ and history.csv were published from it: the old layout's own files
    resume_run(tmp_path / "old")
    assert_same_results(results(tmp_path / "old"), expected, "resumed from the old layout")
    assert_clean(tmp_path / "old")  # the old checkpoint files were replaced by the committed epoch 2

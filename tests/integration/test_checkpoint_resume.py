"""For every engine: training 2 epochs straight equals 1 epoch, checkpoint, restore into a new engine, 1 more."""

from __future__ import annotations

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

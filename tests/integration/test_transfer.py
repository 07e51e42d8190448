"""Transfer learning: --init-from across engines, a new head, frozen layers, two phases, resume, clean errors."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from imgbench.data import load_dataset
from imgbench.data.formats import csvfile as csv_format
from imgbench.engines import create_engine
from imgbench.errors import ImgbenchError
from imgbench.runs.runner import open_run, resume_run, train_run
from imgbench.runs.transfer import initialise_from, source_weights
from imgbench.settings import RunSettings
from imgbench.specs import build_spec
from imgbench.training import Callback, TrainConfig
from imgbench.training.phases import FINE_TUNE_LR_SCALE

from .test_cli_data import assert_clean_error, run_cli
from .test_crash_safety import SimulatedKill, assert_same_results, fast_run, kill_switch, results  # noqa: F401

ENGINES = ["numpy", "torch", "keras"]
# A small convolutional net with BatchNorm, so frozen running statistics are tested too.
BN_SPEC = {
    "name": "bn-net",
    "layers": [
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same"},
        {"type": "batchnorm"},
        {"type": "relu"},
        {"type": "maxpool2d", "size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 16},
        {"type": "relu"},
        {"type": "dense", "units": "num_classes"},
    ],
}


def _needs(engine: str) -> None:
    if engine != "numpy":
        pytest.importorskip(engine)


def _settings(tmp_path, name: str, engine: str = "numpy", model: str = "mlp-small", epochs: int = 2, **kw):
    return RunSettings(
        dataset=kw.pop("dataset", "digits"),
        model=model,
        engine=engine,
        device="cpu" if engine == "torch" else "auto",
        runs_dir=str(tmp_path),
        name=name,
        quiet=True,
        train=TrainConfig(epochs=epochs, batch_size=256, seed=3),
        **kw,
    )


@pytest.fixture(scope="module")
def source_runs(tmp_path_factory):
    """One finished NumPy run of mlp-small and one of the BatchNorm net on digits (the weights to start from)."""
    folder = tmp_path_factory.mktemp("sources")
    spec_file = folder / "bn-net.yaml"
    spec_file.write_text(yaml.safe_dump(BN_SPEC))
    return {
        "mlp": train_run(_settings(folder, "mlp", epochs=1)),
        "bn": train_run(_settings(folder, "bn", model=str(spec_file), epochs=1)),
        "bn_spec": spec_file,
    }


class Snapshots(Callback):
    """The engine's weights before training and after every epoch."""

    def on_train_begin(self, loop) -> None:
        self.loop = loop
        self.states = [self._copy()]

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        self.states.append(self._copy())

    def _copy(self) -> dict:
        return {k: v.copy() for k, v in self.loop.engine.state_dict().items()}  # the NumPy engine's are live


def test_init_from_gives_the_same_model_in_another_engine(tmp_path, source_runs):
    """NumPy run -> torch engine, whose .pt file -> Keras engine: the same weights and logits at every step."""
    _needs("torch")
    _needs("keras")
    _, trained, _ = open_run(source_runs["mlp"])
    X = np.random.default_rng(0).standard_normal((32, 1, 8, 8)).astype(np.float32)
    source, expected = source_runs["mlp"], trained.state_dict()
    for target in ("torch", "keras"):
        engine = create_engine(target, trained.spec, seed=7, device="cpu" if target == "torch" else "auto")
        assert initialise_from(engine, source_weights(source, engine.spec), str(source)) == []
        for k, v in expected.items():
            assert np.array_equal(engine.state_dict()[k], v), f"{target}: {k}"
        np.testing.assert_allclose(engine.predict_logits(X), trained.predict_logits(X), rtol=1e-5, atol=1e-5)
        source = tmp_path / "torch.pt"
        engine.save(source)  # the torch engine's state_dict file starts the Keras engine


def test_fewer_classes_get_a_new_head(tmp_path, source_runs):
    ds = load_dataset("digits")
    keep = ds.y_train < 3
    csv_format.write_csv(tmp_path / "train.csv", ds.X_train[keep], ds.y_train[keep])
    run = train_run(
        _settings(tmp_path, "three", dataset=f"csv:{tmp_path / 'train.csv'}", init_from=str(source_runs["mlp"]))
    )
    _, engine, _ = open_run(run, "last")
    assert engine.spec["num_classes"] == 3 and engine.state_dict()["dense2.weight"].shape == (3, 128)
    # Same classes, --new-head: the head is the new model's own initial one, the rest is copied.
    spec = build_spec("mlp-small", [1, 8, 8], 10)
    engine, fresh = create_engine("numpy", spec, seed=3), create_engine("numpy", spec, seed=3)
    source = source_weights(source_runs["mlp"], spec)
    assert initialise_from(engine, source, "run", new_head=True) == ["dense2.bias", "dense2.weight"]
    state = engine.state_dict()
    assert np.array_equal(state["dense1.weight"], source["dense1.weight"])
    assert np.array_equal(state["dense2.weight"], fresh.state_dict()["dense2.weight"])
    assert not np.array_equal(state["dense2.weight"], source["dense2.weight"])


@pytest.mark.parametrize("engine_name", ENGINES)
def test_frozen_layers_and_batchnorm_statistics_stay_byte_identical(tmp_path, source_runs, engine_name):
    _needs(engine_name)
    source = source_weights(source_runs["bn"], {})
    snapshots = Snapshots()
    settings = _settings(
        tmp_path,
        "frozen",
        engine_name,
        model=str(source_runs["bn_spec"]),
        init_from=str(source_runs["bn"]),
        freeze=["conv*", "bn1"],
    )
    train_run(settings, extra_callbacks=[snapshots])
    last = snapshots.states[-1]
    for k in ("conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"):
        assert last[k].tobytes() == source[k].tobytes(), k
    for k in ("dense1.weight", "dense2.weight"):
        assert not np.array_equal(last[k], source[k]), f"{k} should have trained"


@pytest.mark.parametrize("engine_name", ["numpy", "torch"])
def test_unfreeze_after_trains_the_head_first_then_everything(tmp_path, source_runs, engine_name):
    _needs(engine_name)
    snapshots = Snapshots()
    settings = _settings(
        tmp_path,
        "phases",
        engine_name,
        model=str(source_runs["bn_spec"]),
        init_from=str(source_runs["bn"]),
        unfreeze_after=1,
        head_lr=0.01,
    )
    run = train_run(settings, extra_callbacks=[snapshots])
    start, first, second = snapshots.states
    moved = [k for k in start if not np.array_equal(first[k], start[k])]
    assert moved == ["dense2.weight", "dense2.bias"]  # phase 1: only the head
    assert all(not np.array_equal(second[k], first[k]) for k in start)  # phase 2: every layer, BN stats too
    rows = yaml.safe_load((run / "config.yaml").read_text())
    assert rows["unfreeze_after"] == 1 and rows["head_lr"] == 0.01
    lrs = [float(line.split(",")[5]) for line in (run / "history.csv").read_text().splitlines()[1:]]
    loop = snapshots.loop  # one schedule over the run; phase 1 peaks at --head-lr, phase 2 is a tenth of it
    assert lrs[0] == pytest.approx(loop.schedule(loop.steps_per_epoch - 1) * 0.01 / settings.train.lr, rel=1e-5)
    assert lrs[1] == pytest.approx(loop.schedule(loop.total_steps - 1) * FINE_TUNE_LR_SCALE, rel=1e-5)


# Keras takes 25 s here (a compile per phase and run): in the slow suite.
@pytest.mark.parametrize("engine_name", ["numpy", "torch", pytest.param("keras", marks=pytest.mark.slow)])
def test_resume_with_freezing_and_phases_is_bit_identical(tmp_path, monkeypatch, fast_run, source_runs, engine_name):  # noqa: F811
    _needs(engine_name)

    def settings(name):
        return _settings(
            tmp_path,
            name,
            engine_name,
            model=str(source_runs["bn_spec"]),
            epochs=3,
            init_from=str(source_runs["bn"]),
            freeze=["conv1"],
            unfreeze_after=1,
        )

    expected = results(train_run(settings("straight")))
    # Killed in epoch 2's checkpoint: resumes after epoch 1, where the second phase begins.
    with kill_switch(monkeypatch, 1, 2, last_epoch=3), pytest.raises(SimulatedKill):
        train_run(settings("killed"))
    resume_run(tmp_path / "killed")
    assert_same_results(results(tmp_path / "killed"), expected, "resumed at the phase change")
    if engine_name == "numpy":  # killed before any epoch was committed: the weights come from the source again
        with kill_switch(monkeypatch, 1, 1, last_epoch=3), pytest.raises(SimulatedKill):
            train_run(settings("early"))
        resume_run(tmp_path / "early")
        assert_same_results(results(tmp_path / "early"), expected, "resumed before the first commit")


def test_weights_that_do_not_fit_are_one_clean_error(tmp_path, source_runs):
    proc = run_cli("train", "--model", "cnn-tiny", "--runs-dir", tmp_path, "--init-from", source_runs["mlp"], "--quiet")
    assert_clean_error(proc, "--init-from", "missing: conv1.bias, conv1.weight", "other shape: dense1.bias (128,)")
    assert not any(tmp_path.iterdir()), "a run that cannot start leaves no directory"
    with pytest.raises(ImgbenchError, match=r"--freeze conv\*: no layer of mlp-small .* dense1, dense2"):
        train_run(_settings(tmp_path, "nothing", freeze=["conv*"]))


def test_weight_files_load_like_runs(tmp_path, source_runs):
    """.npz and .safetensors files with imgbench's names start a run like the run directory does."""
    _, engine, _ = open_run(source_runs["mlp"])
    state = engine.state_dict()
    np.savez(tmp_path / "w.npz", **state)
    expected = source_weights(source_runs["mlp"], engine.spec)
    for k, v in source_weights(tmp_path / "w.npz", engine.spec).items():
        assert np.array_equal(v, expected[k]), k
    import json

    header, offset, body = {}, 0, b""
    for k, v in state.items():
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [offset, offset + v.nbytes]}
        offset += v.nbytes
        body += v.astype("<f4").tobytes()
    head = json.dumps(header).encode()
    (tmp_path / "w.safetensors").write_bytes(len(head).to_bytes(8, "little") + head + body)
    for k, v in source_weights(tmp_path / "w.safetensors", engine.spec).items():
        assert np.array_equal(v, expected[k]), k
    (tmp_path / "bad.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(ImgbenchError, match="bad.safetensors: cannot load weights"):
        source_weights(tmp_path / "bad.safetensors", engine.spec)

"""`--log tensorboard,mlflow`: what a run logs is read back and equals its history.csv and metrics.json."""

from __future__ import annotations

import json
import sys
import types

import pytest

from imgbench.runs.runner import resume_run, train_run
from imgbench.settings import RunSettings, TrainConfig
from imgbench.training.history import HISTORY_COLUMNS, read_history
from imgbench.training.trackers import MLFLOW_RECORD, MlflowTracker, final_numbers

from .test_cli_data import run_cli

EPOCH_TAGS = [c for c in HISTORY_COLUMNS if c != "epoch"]
FIGURES = ["confusion_matrix", "curves"]


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def event_accumulator():
    """tensorboard's EventAccumulator, reading through its own file API rather than TensorFlow's.

    A ``tensorboard.compat.notf`` module makes tensorboard use its TensorFlow stub (the no_tensorflow
    build of tensorboard ships one); otherwise it imports TensorFlow, 12-15 s, to open a file.
    """
    pytest.importorskip("tensorboard")
    if "tensorflow" not in sys.modules:
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def read(folder):
        acc = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0})
        acc.Reload()
        return acc

    return read


def _mlflow_run(runs_dir, name):
    """The one MLflow run named ``name`` in the default store of ``runs_dir``, and its client."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{runs_dir / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("imgbench")
    found = client.search_runs([experiment.experiment_id], filter_string=f"attributes.run_name = '{name}'")
    assert len(found) == 1, [r.info.run_name for r in found]
    return client, found[0]


def assert_tensorboard_holds_the_run(acc, run):
    history = read_history(run / "history.csv")
    metrics = json.loads((run / "metrics.json").read_text())
    epochs = [r["epoch"] for r in history]
    for tag in EPOCH_TAGS:  # history.csv keeps 6 significant digits; the event file a float32 of the full value
        events = acc.Scalars(tag)
        assert [e.step for e in events] == epochs, tag
        assert [e.value for e in events] == pytest.approx([r[tag] for r in history], rel=1e-5), tag
    for key, value in final_numbers(metrics).items():
        (event,) = acc.Scalars(key)
        assert event.step == metrics["epochs_trained"] and event.value == pytest.approx(value, rel=1e-6), key
    assert acc.Tags()["images"] == [f"plots/{f}" for f in FIGURES]
    for figure in FIGURES:
        (image,) = acc.Images(f"plots/{figure}")
        assert image.encoded_image_string == (run / "plots" / f"{figure}.png").read_bytes()

    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    (content,) = acc.PluginTagToContent("hparams").values()
    hparams = HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["engine"].string_value == "numpy" and hparams["model"].string_value == "mlp-small"
    assert hparams["train.epochs"].number_value == len(history) and hparams["train.lr"].number_value == 5e-3


def assert_mlflow_holds_the_run(runs_dir, run):
    client, logged = _mlflow_run(runs_dir, run.name)
    history = read_history(run / "history.csv")
    metrics = json.loads((run / "metrics.json").read_text())
    assert logged.info.status == "FINISHED"
    assert json.loads((run / MLFLOW_RECORD).read_text())["run_id"] == logged.info.run_id
    for tag in EPOCH_TAGS:
        points = sorted(client.get_metric_history(logged.info.run_id, tag), key=lambda m: m.step)
        assert [m.step for m in points] == [r["epoch"] for r in history], tag
        assert [m.value for m in points] == pytest.approx([r[tag] for r in history], rel=1e-5), tag
    for key, value in final_numbers(metrics).items():
        assert logged.data.metrics[key] == value, key  # float64 from metrics.json: exactly
    params = logged.data.params
    assert params["engine"] == "numpy" and params["model"] == "mlp-small" and params["dataset"] == "digits"
    assert params["train.epochs"] == str(len(history)) and params["train.lr"] == "0.005"
    top = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert top == {"config.yaml", "history.csv", "metrics.json", "plots"}
    plots = [a.path for a in client.list_artifacts(logged.info.run_id, "plots")]
    assert plots == [f"plots/{f}.png" for f in FIGURES]
    local = runs_dir / "mlflow" / "artifacts" / logged.info.run_id / "artifacts"  # beside the store, not in the cwd
    assert logged.info.artifact_uri == local.as_uri()
    assert (local / "plots" / "curves.png").read_bytes() == (run / "plots" / "curves.png").read_bytes()
    assert json.loads((local / "metrics.json").read_text()) == metrics


def test_train_logs_to_tensorboard_and_mlflow(tmp_path, monkeypatch, event_accumulator):
    pytest.importorskip("mlflow")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # MLflow's own default store is ./mlflow.db and ./mlartifacts: nothing may land here
    runs = tmp_path / "runs"
    proc = run_cli(
        "train", "--dataset", "digits", "--model", "mlp-small", "--epochs", "3", "--runs-dir", runs, "--name", "r",
        "--log", "tensorboard,mlflow", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run = runs / "r"
    assert [r["epoch"] for r in read_history(run / "history.csv")] == [1, 2, 3]
    assert_tensorboard_holds_the_run(event_accumulator(run / "tensorboard"), run)
    assert_mlflow_holds_the_run(runs, run)
    assert list(cwd.iterdir()) == []


class Interrupted(BaseException):
    """The process stopped here (a BaseException, as a kill or Ctrl-C is to the code that trains)."""


def test_a_resumed_run_logs_on_into_the_same_tracker_runs(tmp_path, monkeypatch, event_accumulator):
    pytest.importorskip("mlflow")
    logged = MlflowTracker.on_epoch_end

    def stop_after_epoch_2(self, epoch, row):  # the last callback: every other one has seen epoch 2
        logged(self, epoch, row)
        if epoch == 2:
            raise Interrupted

    settings = RunSettings(
        dataset="digits",
        model="mlp-small",
        runs_dir=str(tmp_path),
        name="r",
        quiet=True,
        log=["tensorboard", "mlflow"],
        train=TrainConfig(epochs=3, batch_size=128),
    )
    with monkeypatch.context() as m, pytest.raises(Interrupted):
        m.setattr(MlflowTracker, "on_epoch_end", stop_after_epoch_2)
        train_run(settings)
    run = tmp_path / "r"
    assert not (run / "metrics.json").exists()
    resume_run(run)
    assert [r["epoch"] for r in read_history(run / "history.csv")] == [1, 2, 3]
    assert len(list((run / "tensorboard").iterdir())) == 3  # training, resumed training, test results
    assert_tensorboard_holds_the_run(event_accumulator(run / "tensorboard"), run)
    assert_mlflow_holds_the_run(tmp_path, run)


def test_log_setting_from_flags_config_files_and_studies(tmp_path):
    from imgbench.cli import build_parser
    from imgbench.studies.studyfile import parse_study

    args = build_parser().parse_args(["train", "--log", "tensorboard, mlflow"])
    assert args.log == ["tensorboard", "mlflow"]
    assert RunSettings.from_dict({"log": "mlflow"}).log == ["mlflow"]
    assert RunSettings().log is None
    sections = {"datasets": ["digits"], "models": ["mlp-small"], "engines": ["numpy"]}
    study = parse_study({"name": "s", **sections, "settings": {"log": "mlflow"}})
    assert study.settings == {"log": ["mlflow"]}


def test_an_unknown_tracker_is_a_clean_error(tmp_path):
    proc = run_cli("train", "--log", "tensorbord", "--runs-dir", tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("imgbench: error: ") and "did you mean 'tensorboard'" in proc.stderr
    assert "one of tensorboard, mlflow" in proc.stderr and not any(tmp_path.iterdir())


def test_a_missing_library_is_one_error_line_with_the_install_hint(tmp_path, monkeypatch, capsys):
    from imgbench.cli import main

    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow now raises ImportError
    code = main(["train", "--model", "mlp-small", "--epochs", "1", "--runs-dir", str(tmp_path), "--log", "mlflow"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1] == (
        "imgbench: error: logging to mlflow needs the 'mlflow' package, which is not installed: "
        "pip install 'imgbench[trackers]' (or pip install mlflow)"
    )
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []  # no run left behind


def test_mlflow_tracking_uri_and_experiment_name_choose_the_store(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "mine")
    runs = tmp_path / "runs"
    settings = RunSettings(model="mlp-small", runs_dir=str(runs), name="r", quiet=True, log=["mlflow"])
    settings.train.epochs = 1
    run = train_run(settings)
    assert not (runs / "mlflow").exists()
    client = MlflowClient(uri)
    (logged,) = client.search_runs([client.get_experiment_by_name("mine").experiment_id])
    assert logged.info.run_name == "r" and logged.info.status == "FINISHED"
    assert logged.data.metrics["accuracy"] == json.loads((run / "metrics.json").read_text())["accuracy"]
    assert json.loads((run / MLFLOW_RECORD).read_text())["tracking_uri"] == uri

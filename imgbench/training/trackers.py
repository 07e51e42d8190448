"""Experiment trackers, TensorBoard and MLflow, as training callbacks (``--log tensorboard,mlflow``).

A tracker is a view of the run directory: it receives what the directory receives, as it is written.
When training begins, the resolved settings (TensorBoard's HParams, MLflow's params and config.yaml);
after every epoch, the row of history.csv, under its column names (``train_loss``, ``train_acc``,
``val_loss``, ``val_acc``, ``lr``, ``seconds``) at step = epoch; after the test evaluation
(:func:`log_results`), every number of metrics.json under its name there, at step = epochs trained,
and the figures of ``plots/``.  Trackers come after the checkpoint writer among the callbacks, so a
tracker never holds an epoch the run directory lacks.

TensorBoard: event files in ``RUN_DIR/tensorboard/`` (``tensorboard --logdir runs`` shows every run).
They are written with tensorboard's own record writer and protocol buffers.  torch's ``SummaryWriter``
and tensorboard's ``EventFileWriter`` would do the same, but both import TensorFlow whenever it is
installed (12-15 s here, for every run of every engine) only to create a folder and open a file.

MLflow: one MLflow run per run directory, named as it, in the experiment named as the study (else
``imgbench``; ``MLFLOW_EXPERIMENT_NAME`` overrides).  The store is ``RUNS_DIR/mlflow/`` (``mlflow.db``
and ``artifacts/``; ``mlflow ui --backend-store-uri sqlite:///runs/mlflow/mlflow.db`` shows it) unless
``MLFLOW_TRACKING_URI`` names another.  ``RUN_DIR/mlflow.json`` records the store and the MLflow run,
so a resumed run logs on into the same one.

The libraries are optional extras, imported when a tracker is created; a missing one is one
:class:`~imgbench.errors.ImgbenchError` with the install hint, before any epoch is trained.
"""

from __future__ import annotations

import abc
import importlib
import itertools
import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ImgbenchError
from ..fileio import read_json, write_json
from ..settings import RunSettings
from .callbacks import Callback
from .history import HISTORY_COLUMNS

EXTRA = "trackers"  # pip install 'imgbench[trackers]'
MLFLOW_RECORD = "mlflow.json"
_EVENT_FILES = itertools.count()  # tells apart the event files one process opens in the same second


def settings_table(settings: RunSettings) -> dict[str, str | int | float | bool]:
    """The resolved settings as flat ``name: value`` pairs (``train.lr``), for trackers' hyperparameter tables.

    The model spec is left out: it is config.yaml's ``spec:``, which MLflow keeps as an artefact.
    """
    out: dict[str, str | int | float | bool] = {}

    def add(prefix: str, d: Mapping[str, Any]) -> None:
        for k, v in d.items():
            if isinstance(v, Mapping):
                add(f"{prefix}{k}.", v)
            elif isinstance(v, list):
                out[prefix + k] = ",".join(map(str, v))
            else:
                out[prefix + k] = "none" if v is None else v

    add("", {k: v for k, v in settings.to_dict().items() if k != "spec"})
    return out


def final_numbers(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of metrics.json (accuracy, f1_macro, log_loss, param_count, ...), by their names there."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class Tracker(Callback, abc.ABC):
    """A training callback that logs a run to an experiment tracker; :meth:`log_results` adds the test results."""

    name: ClassVar[str]
    package: ClassVar[str]  # the module to import, and the package to install

    def __init__(self, run: Path, settings: RunSettings):
        try:
            importlib.import_module(self.package)
        except ImportError:
            raise ImgbenchError(
                f"logging to {self.name} needs the '{self.package}' package, which is not installed: "
                f"pip install 'imgbench[{EXTRA}]' (or pip install {self.package})"
            ) from None
        self.run, self.settings = run, settings

    def on_train_begin(self, loop) -> None:
        self.open()

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        self.log_numbers({c: row[c] for c in HISTORY_COLUMNS if c != "epoch"}, epoch)

    def on_train_end(self, history) -> None:
        self.close()

    def log_results(self, metrics: Mapping[str, Any], figures: list[Path]) -> None:
        """After the test evaluation: the numbers of ``metrics`` and the ``figures``; then the tracker is closed."""
        self.open()
        self.log_numbers(final_numbers(metrics), int(metrics.get("epochs_trained", 0)))
        self.log_files(figures)
        self.close(finished=True)

    @abc.abstractmethod
    def open(self) -> None:
        """Start this run's record in the tracker with the settings, or continue the one it has."""

    @abc.abstractmethod
    def log_numbers(self, values: Mapping[str, float], step: int) -> None:
        """Log ``name: value`` pairs at ``step`` (an epoch)."""

    @abc.abstractmethod
    def log_files(self, figures: list[Path]) -> None:
        """Log the finished run's figures (PNG files), and its record files where the tracker keeps files."""

    @abc.abstractmethod
    def close(self, finished: bool = False) -> None:
        """Let go of the tracker; ``finished``: the run is complete."""


class TensorBoardTracker(Tracker):
    """Event files in ``RUN_DIR/tensorboard/``: scalars, the settings as HParams, the figures as images."""

    name = "tensorboard"
    package = "tensorboard"

    def __init__(self, run: Path, settings: RunSettings):
        super().__init__(run, settings)
        self.folder = run / "tensorboard"
        self._file = None

    def open(self) -> None:
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        resumed = self.folder.is_dir() and any(self.folder.iterdir())
        self.folder.mkdir(exist_ok=True)
        # The name TensorBoard looks for and sorts by: events.out.tfevents.<time>.<host>.<pid>.<n>
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_EVENT_FILES)}"
        self._file = RecordWriter(open(self.folder / name, "ab"))  # noqa: SIM115  (closed by close())
        self._event = event_pb2.Event
        self._write(file_version="brain.Event:2")
        if not resumed:
            from tensorboard.plugins.hparams.summary_v2 import hparams_pb

            self._write(summary=hparams_pb(settings_table(self.settings), trial_id=self.run.name))

    def _write(self, step: int = 0, **fields: Any) -> None:
        assert self._file is not None, "open() first"
        self._file.write(self._event(wall_time=time.time(), step=step, **fields).SerializeToString())

    def log_numbers(self, values: Mapping[str, float], step: int) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        self._write(step, summary=Summary(value=[Summary.Value(tag=k, simple_value=v) for k, v in values.items()]))
        assert self._file is not None
        self._file.flush()  # an epoch is in the file once it is committed in the run directory

    def log_files(self, figures: list[Path]) -> None:
        from PIL import Image
        from tensorboard.compat.proto.summary_pb2 import Summary

        channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}
        images = []
        for path in figures:
            with Image.open(path) as im:
                width, height, mode = im.width, im.height, im.mode
            image = Summary.Image(
                height=height, width=width, colorspace=channels.get(mode, 3), encoded_image_string=path.read_bytes()
            )
            images.append(Summary.Value(tag=f"plots/{path.stem}", image=image))
        self._write(summary=Summary(value=images))

    def close(self, finished: bool = False) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class MlflowTracker(Tracker):
    """An MLflow run: params, per-epoch metrics, final metrics, and config, history, metrics and plots as artefacts."""

    name = "mlflow"
    package = "mlflow"

    def __init__(self, run: Path, settings: RunSettings):
        super().__init__(run, settings)
        self.record = run / MLFLOW_RECORD

    def open(self) -> None:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        if self._continue_recorded():
            return
        uri, artifacts = os.environ.get("MLFLOW_TRACKING_URI"), None
        if not uri:
            uri, artifacts = self._default_store()
        self.client = MlflowClient(uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or self.settings.study or "imgbench"
        experiment = self._experiment(name, artifacts)
        tags = {"imgbench.run_dir": str(self.run.resolve()), "imgbench.engine": self.settings.engine}
        self.run_id = self.client.create_run(experiment, run_name=self.run.name, tags=tags).info.run_id
        write_json(self.record, {"tracking_uri": uri, "experiment_id": experiment, "run_id": self.run_id})
        params = [Param(k, str(v)) for k, v in settings_table(self.settings).items()]
        self.client.log_batch(self.run_id, params=params)
        self.client.log_artifact(self.run_id, str(self.run / "config.yaml"))  # the settings with the model spec

    def _continue_recorded(self) -> bool:
        """Go on with the MLflow run of RUN_DIR/mlflow.json (a resumed run, or the results of a trained one).

        False when there is none, or its store no longer holds it: then a new MLflow run is started.
        """
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        if not self.record.is_file():
            return False
        known = read_json(self.record)
        self.client, self.run_id = MlflowClient(known["tracking_uri"]), known["run_id"]
        try:
            self.client.update_run(self.run_id, status="RUNNING")
        except MlflowException:
            return False
        return True

    def _default_store(self) -> tuple[str, str]:
        """The tracking URI ``sqlite:///RUNS_DIR/mlflow/mlflow.db`` and the artefact folder beside it.

        MLflow's own defaults are ``mlflow.db`` and ``mlartifacts/`` in the working directory.
        """
        store = (self.run.parent / "mlflow").resolve()
        store.mkdir(exist_ok=True)
        if not (store / "mlflow.db").exists():
            _create_mlflow_db(store / "mlflow.db")
        return f"sqlite:///{store / 'mlflow.db'}", (store / "artifacts").as_uri()

    def _experiment(self, name: str, artifacts: str | None) -> str:
        """The id of the experiment ``name``, created with its artefacts in ``artifacts`` if new."""
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(self.client.create_experiment(name, artifact_location=artifacts))
        except MlflowException:  # another process (a study's worker) created it first
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return str(found.experiment_id)

    def log_numbers(self, values: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step) for k, v in values.items()])

    def log_files(self, figures: list[Path]) -> None:
        for name in ("metrics.json", "history.csv"):
            if (self.run / name).is_file():
                self.client.log_artifact(self.run_id, str(self.run / name))
        for path in figures:
            self.client.log_artifact(self.run_id, str(path), artifact_path="plots")

    def close(self, finished: bool = False) -> None:
        if finished:
            self.client.set_terminated(self.run_id, "FINISHED")


def _create_mlflow_db(db: Path) -> None:
    """Create MLflow's SQLite database at ``db``, safely when several processes start at once.

    MLflow creates its tables by migrations that fail, or damage the file, when two processes (a study's
    workers) run them on one new database at the same time.  Each process builds a database of its own
    under a temporary name and links it into place: the first link wins, the others are discarded.
    """
    import tempfile

    from mlflow.tracking import MlflowClient

    fd, name = tempfile.mkstemp(prefix=f".{db.name}.", suffix=".tmp", dir=db.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        MlflowClient(f"sqlite:///{tmp}").search_experiments(max_results=1)  # the first query creates the tables
        os.link(tmp, db)
    except FileExistsError:
        pass  # another process was first
    finally:
        tmp.unlink()


TRACKERS: dict[str, type[Tracker]] = {t.name: t for t in (TensorBoardTracker, MlflowTracker)}


def create_trackers(run: Path, settings: RunSettings) -> list[Tracker]:
    """The trackers ``settings.log`` names, each once; a missing library is an :class:`ImgbenchError`."""
    return [TRACKERS[name](run, settings) for name in dict.fromkeys(settings.log or ())]


def log_results(run: Path, settings: RunSettings, metrics: Mapping[str, Any]) -> None:
    """Log a run's test metrics (metrics.json's numbers) and its figures (``plots/*.png``) to its trackers."""
    figures = sorted((run / "plots").glob("*.png"))
    for tracker in create_trackers(run, settings):
        tracker.log_results(metrics, figures)

"""The runs a server has loaded: one engine per run, opened once and kept warm.

Opening a run (building its engine, loading its weights) takes from milliseconds (NumPy) to seconds
(Keras), and the first forward pass of PyTorch or TensorFlow is slower than the rest, so each run is
opened on its first request, run once on a blank image, and kept.  Engines hold per-call state (the
NumPy layers cache their inputs), so each has a lock and one request at a time uses it.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Normalizer
from ..engines import WEIGHT_SUFFIX
from ..errors import ImgbenchError
from ..export.exporter import default_path
from ..export.verify import onnx_session
from ..runs.runner import open_run
from .paths import NotFound, RunCatalog

CACHED_RUNS = 16  # engines kept loaded at once; the least recently used one is closed beyond this
WEIGHTS = "best"  # the weights a run is evaluated with, and the ones served
RUNTIMES = ("engine", "onnx")  # what computes a served prediction: the run's engine, or ONNX Runtime on its export


@dataclass
class ServedRun:
    """A run opened for serving: its engine with the weights loaded, and how its inputs are prepared."""

    name: str
    path: Path
    engine: Any
    preprocess: dict
    stamp: int  # the weights file's modification time: a resumed run's newer weights reopen it
    normalizer: Normalizer = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _weights: dict[str, np.ndarray] | None = None
    _onnx: Callable[[np.ndarray], np.ndarray] | None = None

    def __post_init__(self) -> None:
        self.normalizer = Normalizer.from_dict(self.preprocess)

    @property
    def class_names(self) -> list[str]:
        return list(self.preprocess["class_names"])

    @property
    def spec(self) -> dict:
        return self.engine.spec

    def weights(self) -> dict[str, np.ndarray]:
        """The engine's parameters under the shared names and layouts (read once: served weights never change)."""
        if self._weights is None:
            with self.lock:
                self._weights = self.engine.state_dict()
        return self._weights

    def onnx_logits(self, x: np.ndarray) -> np.ndarray:
        """Logits of the run's float ONNX export (``RUN/export/model.onnx``, checked against the engine when
        ``imgbench export`` wrote it) from one ONNX Runtime session, opened on first use and kept.  No lock:
        ONNX Runtime sessions may run several requests at once, unlike the engines."""
        if self._onnx is None:
            with self.lock:
                if self._onnx is None:
                    self._onnx = _open_export(self)
        return self._onnx(x)

    def inputs(self, raw: np.ndarray) -> np.ndarray:
        """A batch of one normalised image, as the engine takes it, from a (C, H, W) uint8 image."""
        return self.normalizer(raw[None])


def weights_file(path: Path, engine: str) -> Path:
    """The weights file a served run is opened with."""
    return path / "weights" / f"{WEIGHTS}{WEIGHT_SUFFIX[engine]}"


def _stamp(path: Path, engine: str) -> int:
    try:
        return weights_file(path, engine).stat().st_mtime_ns
    except OSError:
        return -1


def _open_export(run: ServedRun) -> Callable[[np.ndarray], np.ndarray]:
    """The ONNX Runtime session of the run's float export; NotFound when there is none, an error when it is
    older than the weights served (the run went on training after it was exported)."""
    path = default_path(run.path, "onnx", "none")
    if not path.is_file():
        raise NotFound(
            f"run {run.name!r} has no ONNX export ({path.relative_to(run.path)}); "
            f"make one with 'imgbench export {run.path} --format onnx'"
        )
    if path.stat().st_mtime_ns < run.stamp:
        raise ImgbenchError(
            f"run {run.name!r}: its ONNX export is older than the weights served (the run trained on after "
            f"it was exported); export it again with 'imgbench export {run.path} --format onnx'"
        )
    # One thread, as the engines get: requests are single images and the server's threads share the cores.
    return onnx_session(path, threads=1)


def _warm(run: ServedRun) -> None:
    """One pass of each kind the server makes, so the first user's request is not the slow one."""
    x = run.inputs(np.zeros(tuple(run.preprocess["image_shape"]), dtype=np.uint8))
    run.engine.predict_logits(x)
    run.engine.activations(x)
    with contextlib.suppress(ImgbenchError):  # an engine without gradients here: served without saliency
        run.engine.input_gradient(x, np.array([0]))


class ModelCache:
    """Served runs by name, opened on first use and kept (at most :data:`CACHED_RUNS`, least recent out)."""

    def __init__(self, catalog: RunCatalog, size: int = CACHED_RUNS):
        self.catalog = catalog
        self.size = size
        self._runs: OrderedDict[str, ServedRun] = OrderedDict()
        self._lock = threading.Lock()  # guards the two dicts, held for microseconds
        self._opening: dict[str, threading.Lock] = {}  # one per run being opened

    def _cached(self, name: str) -> ServedRun | None:
        with self._lock:
            run = self._runs.get(name)
            # One stat per request: an open run stays served while its weights file is the one it was opened
            # from; a run removed, replaced or resumed since is looked up (and checked) again.
            if run is not None and run.stamp == _stamp(run.path, run.engine.name):
                self._runs.move_to_end(name)
                return run
            return None

    def get(self, name: str) -> ServedRun:
        """The served run ``name``; NotFound when the catalog has no such run."""
        run = self._cached(name)
        if run is not None:
            return run
        path = self.catalog.path(name)  # NotFound before anything is kept for a name that is no run
        with self._lock:
            opening = self._opening.setdefault(name, threading.Lock())
        # Two requests for a run not open yet open it once; requests for other runs go on meanwhile
        # (opening a Keras run takes seconds).
        with opening:
            run = self._cached(name)
            if run is not None:
                return run
            # One thread per model: requests are single images, and the server's own threads share the cores.
            _, engine, preprocess = open_run(path, WEIGHTS, threads=1)
            run = ServedRun(name, path, engine, preprocess, _stamp(path, engine.name))
            _warm(run)
            with self._lock:
                self._runs[name] = run
                while len(self._runs) > self.size:
                    self._runs.popitem(last=False)
            return run

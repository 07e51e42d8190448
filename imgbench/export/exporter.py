"""``export_run``: a run's weights as an ONNX or LiteRT file, verified before it is kept.

The file is written under a temporary name, run by its own runtime (ONNX Runtime, the LiteRT
interpreter) on the run's first test images and compared with the engine's logits; only a file that
passes is renamed into place.  Its figures and everything needed to use it alone (input layout and
size, normalisation, class names, the run's preprocessing) go into ``export.json`` beside it, one
entry per file name; an ONNX file also carries them in its ``metadata_props`` (``imgbench.*`` keys).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Normalizer
from ..errors import ImgbenchError
from ..fileio import read_json, write_json
from . import verify
from .formats import LAYOUTS, QUANTIZE, require, write_litert, write_onnx

WRITERS = {"onnx": (".onnx", write_onnx), "litert": (".tflite", write_litert)}  # every name in FORMATS
CHECK_IMAGES = 256  # test images the export is checked on


def default_path(run_dir: Path, fmt: str, quantize: str) -> Path:
    """``RUN_DIR/export/model[-QUANTIZE].onnx|.tflite``."""
    tag = "" if quantize == "none" else f"-{quantize}"
    return run_dir / "export" / f"model{tag}{WRITERS[fmt][0]}"


def usage(engine: Any, pre: dict[str, Any], fmt: str) -> dict[str, Any]:
    """What a user of the file needs besides it: the input it takes and how images are prepared."""
    shape = list(engine.spec["input_shape"])
    if fmt == "litert" and len(shape) == 3:
        shape = [shape[1], shape[2], shape[0]]
    return {
        "input_layout": LAYOUTS[fmt] if len(engine.spec["input_shape"]) == 3 else "NF",
        "input_shape": ["batch", *shape],
        "input_range": "pixels / 255, then (x - mean) / std per channel",
        "mean": pre["mean"],
        "std": pre["std"],
        "class_names": pre["class_names"],
        "preprocess": pre,
        "engine": engine.name,
        "model": engine.spec["name"],
    }


def _add_onnx_metadata(path: Path, info: dict[str, Any]) -> None:
    onnx = require("onnx", "onnx")
    model = onnx.load(str(path))
    for key, value in info.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"imgbench.{key}", value if isinstance(value, str) else json.dumps(value)
    onnx.save(model, str(path))


def _record(out: Path, entry: dict[str, Any]) -> Path:
    """Add ``entry`` under the file's name to export.json beside it (other files' entries stay)."""
    record = out.parent / "export.json"
    entries = read_json(record) if record.exists() else {}
    entries[out.name] = entry
    write_json(record, entries)
    return record


def export_run(
    run_dir: str | Path, fmt: str, out: str | Path | None = None, quantize: str = "none", weights: str = "best"
) -> dict[str, Any]:
    """Export a run's weights as ``fmt`` (onnx or litert) to ``out``; returns its export.json entry.

    A float export must match the engine's logits (:data:`verify.TOLERANCE` of the largest) with the
    same top-1 label on every checked image, or it is an :class:`ImgbenchError` and no file is left;
    a quantised export's accuracy is measured and recorded beside the engine's.
    """
    from ..runs.runner import open_run, split_images

    if fmt not in WRITERS:
        raise ImgbenchError(f"unknown export format '{fmt}': expected one of {', '.join(WRITERS)}")
    if quantize not in QUANTIZE:
        raise ImgbenchError(f"unknown quantization '{quantize}': expected one of {', '.join(QUANTIZE)}")
    run = Path(run_dir)
    suffix, write = WRITERS[fmt]
    target = Path(out) if out is not None else default_path(run, fmt, quantize)
    if target.suffix != suffix:
        raise ImgbenchError(f"{target}: a {fmt} file must end in '{suffix}'")
    for module, package in (("onnx", "onnx"), ("onnxruntime", "onnxruntime")) if fmt == "onnx" else ():
        require(module, package)  # before the run is opened: a missing package is the first thing said
    settings, engine, pre = open_run(run, weights)
    if fmt == "onnx" and engine.name != "torch":
        from .onnx_graph import check_exportable

        check_exportable(engine.spec)
    _, X_all, y_all = split_images(run, settings, "test")
    X, y = Normalizer.from_dict(pre)(X_all[:CHECK_IMAGES]), np.asarray(y_all[:CHECK_IMAGES])
    reference = engine.predict_logits(X)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.{os.getpid()}.tmp{suffix}")
    info = usage(engine, pre, fmt)
    try:
        started = time.perf_counter()
        path_taken = write(engine, temporary, quantize)
        seconds = time.perf_counter() - started
        if fmt == "onnx":
            _add_onnx_metadata(temporary, {**info, "quantize": quantize})
        figures = verify.compare(reference, verify.RUNTIMES[fmt](temporary, X), y)
        failure = verify.float_check_failure(figures) if quantize == "none" else None
        if failure:
            raise ImgbenchError(f"{target}: the {fmt} export failed its check and was not kept: {failure}")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    entry = {
        "file": target.name,
        "format": fmt,
        "quantize": quantize,
        "path": path_taken,
        "run": str(run.resolve()),
        "weights": weights,
        "bytes": target.stat().st_size,
        "export_seconds": seconds,
        "check": {**figures, "tolerance": verify.TOLERANCE, "passed": True} if quantize == "none" else figures,
        **info,
    }
    _record(target, entry)
    return entry

"""Predicting with an exported model: an ONNX or LiteRT file written by ``imgbench export``, no run needed.

The file is run by its own runtime (ONNX Runtime, the LiteRT interpreter), the same code that checked it
when it was exported.  What predicting needs besides the weights (image size and colour mode, how a user's
image is prepared, the normalisation, the class names) is what the export stored with it: the
``imgbench.preprocess`` metadata of an ONNX file, or the file's entry in ``export.json`` beside it (the only
place for a LiteRT file, which has no such metadata).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImgbenchError
from ..fileio import read_json

# Suffix of an exported file -> (its format in imgbench.export, the module that runs it, the package to install).
EXPORTED = {
    ".onnx": ("onnx", "onnxruntime", "onnxruntime"),
    ".tflite": ("litert", "ai_edge_litert.interpreter", "ai-edge-litert"),
}
INSTALL_EXTRA = "pip install 'imgbench[export]'"
CHUNK = 4096  # images given to the runtime at a time: each call opens the file's session again


def is_exported(path: str | Path) -> bool:
    """Does ``path`` name an exported model file (by its suffix), rather than a run directory?"""
    return Path(path).suffix.lower() in EXPORTED and not Path(path).is_dir()


def _onnx_metadata(path: Path) -> dict[str, str]:
    """The ``imgbench.*`` metadata of an ONNX file, read by ONNX Runtime (the ``onnx`` package is not needed)."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime raises its own types (InvalidProtobuf, Fail, ...) for a bad file
        raise ImgbenchError(f"{path}: not a readable ONNX model ({str(exc).splitlines()[0]})") from None
    return dict(session.get_modelmeta().custom_metadata_map)


def _recorded(path: Path) -> dict[str, Any]:
    """The file's entry in ``export.json`` beside it."""
    record = path.parent / "export.json"
    entries = read_json(record) if record.is_file() else {}
    entry = entries.get(path.name) if isinstance(entries, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("preprocess"), dict):
        raise ImgbenchError(
            f"{path}: expected its preprocessing and class names in {record} (written by 'imgbench export' "
            f"beside the file), found {'no entry for ' + path.name if record.is_file() else 'no such file'}; "
            "keep export.json with the file when moving it"
        )
    return entry


def _onnx_preprocess(path: Path) -> dict[str, Any] | None:
    """The ``imgbench.preprocess`` metadata of an ONNX file; None when it has none."""
    stored = _onnx_metadata(path).get("imgbench.preprocess")
    if stored is None:
        return None
    try:
        pre = json.loads(stored)
    except json.JSONDecodeError as exc:
        raise ImgbenchError(f"{path}: the imgbench.preprocess metadata is not valid JSON ({exc})") from None
    return pre if isinstance(pre, dict) else None


def _preprocess(path: Path, fmt: str) -> dict[str, Any]:
    """The run's preprocess.json as the export stored it."""
    pre = _onnx_preprocess(path) if fmt == "onnx" else None
    if pre is None:
        pre = _recorded(path)["preprocess"]
    missing = [key for key in ("class_names", "image_shape", "mean", "std") if key not in pre]
    if missing:
        raise ImgbenchError(f"{path}: the stored preprocessing lacks {', '.join(missing)}")
    return pre


def open_exported(path: str | Path) -> tuple[Callable[[np.ndarray], np.ndarray], dict[str, Any]]:
    """``(logits of normalised NCHW float32 images, preprocess)`` of an exported ``.onnx`` or ``.tflite`` file.

    A missing runtime is one :class:`ImgbenchError` naming the package and the extra that installs it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORTED:
        raise ImgbenchError(f"{path}: expected an exported model file ending in .onnx or .tflite, found '{suffix}'")
    fmt, module, package = EXPORTED[suffix]
    if not path.is_file():
        raise ImgbenchError(f"{path}: no such exported model file")
    try:
        importlib.import_module(module)
    except ImportError:
        raise ImgbenchError(f"{path}: predicting with a {suffix} file needs {package}: {INSTALL_EXTRA}") from None
    pre = _preprocess(path, fmt)
    # Imported here, not at the top: export/ opens runs to check its files, so runs/ only borrows its runtimes.
    from ..export.verify import RUNTIMES

    run = RUNTIMES[fmt]

    def logits(X: np.ndarray) -> np.ndarray:
        parts = [run(path, X[start : start + CHUNK]) for start in range(0, len(X), CHUNK)]
        return np.concatenate(parts) if parts else np.zeros((0, len(pre["class_names"])), np.float32)

    return logits, pre

"""Predicting the class of a user's own images, or of the rows of a Kaggle CSV, with a run or an exported model.

The model is a run directory (its engine and weights) or an ``.onnx``/``.tflite`` file written by
``imgbench export``; either way the images are prepared the way the run's training data was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Normalizer
from ..data.formats.csvfile import read_csv
from ..data.formats.folder import IMAGE_SUFFIXES
from ..data.images import image_to_input
from ..errors import ImgbenchError
from ..evaluation import softmax
from .exported import is_exported, open_exported
from .runner import open_run

BATCH_IMAGES = 256  # images decoded and predicted at a time, so a large folder needs little memory


def open_model(model: str | Path, weights: str = "best") -> tuple[Callable[[np.ndarray], np.ndarray], dict[str, Any]]:
    """``(logits of normalised NCHW float32 images, the run's preprocess.json)`` of a run directory or an
    exported ``.onnx``/``.tflite`` file (``weights``, best or last, applies to a run directory)."""
    if is_exported(model):
        return open_exported(model)
    path = Path(model)
    if not path.is_dir():
        found = "no such file or folder" if not path.exists() else f"a file ending in '{path.suffix}'"
        raise ImgbenchError(
            f"{path}: expected a run directory or an .onnx or .tflite file written by 'imgbench export', found {found}"
        )
    _, engine, pre = open_run(path, weights)
    return engine.predict_logits, pre


def ranked(p: np.ndarray, names: list[str], k: int) -> dict[str, Any]:
    """One image's prediction from its class probabilities ``p``: the top label, its index, the top ``k``, all."""
    order = np.argsort(-p)[:k]
    return {
        "label": names[order[0]],
        "class_index": int(order[0]),
        "probability": float(p[order[0]]),
        "top_k": [{"label": names[i], "probability": float(p[i])} for i in order],
        "probabilities": {n: float(v) for n, v in zip(names, p, strict=True)},
    }


def image_files(paths: Iterable[str | Path]) -> list[Path]:
    """``paths`` with every folder replaced by the image files in it and below (sorted by path).

    Files named directly are kept whatever their suffix, and so are paths that do not exist: predicting
    reports them.  A folder with no images is kept too, to be reported.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            files.extend(found or [path])
        else:
            files.append(path)
    return files


def _problem(path: Path, exc: Exception) -> str:
    """Why ``path`` cannot be predicted, as one message that starts with the path."""
    message = f"{exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
    return message if message.startswith(str(path)) else f"{path}: {message}"


def predict_images(run_dir: str | Path, paths: list, top_k: int = 3, weights: str = "best") -> list[dict]:
    """One result per image: the top label and its class index, the top-k labels with probabilities, and
    every class's probability.

    ``run_dir`` is a run directory or an exported ``.onnx``/``.tflite`` file (see :func:`open_model`).
    A folder stands for the images in it, recursively and sorted by path.  Each image is converted to
    look like the training data (colour mode, size, and for MNIST-style digits the classic
    invert/crop/centre steps).  An image that cannot be read gets ``{"path", "error"}`` instead,
    and the others are predicted all the same (see :func:`unreadable_summary`).
    """
    logits_of, pre = open_model(run_dir, weights)
    names = pre["class_names"]
    shape = tuple(pre["image_shape"])
    style = pre.get("style", "fit")
    dark = pre.get("dark_background", False)
    normalizer = Normalizer.from_dict(pre)
    k = max(1, min(top_k, len(names)))
    files = image_files(paths)
    results: list[dict] = []
    for start in range(0, len(files), BATCH_IMAGES):
        batch = files[start : start + BATCH_IMAGES]
        entries: list[dict] = []
        readable, X = [], []
        for path in batch:
            entries.append({"path": str(path)})
            try:
                if path.is_dir():
                    raise ImgbenchError(f"{path}: no images in this folder")
                X.append(image_to_input(path, shape, style, dark))
                readable.append(entries[-1])
            except (ImgbenchError, OSError) as exc:
                entries[-1]["error"] = _problem(path, exc)
        if X:
            probs = softmax(logits_of(normalizer(np.stack(X))))
            for entry, p in zip(readable, probs, strict=True):
                entry.update(ranked(p, names, k))
        results.extend(entries)
    return results


def predict_csv(run_dir: str | Path, csv_path: str | Path, top_k: int = 3, weights: str = "best") -> list[dict]:
    """One result per row of a Kaggle CSV (``csv:`` format; a label column is allowed and ignored), as
    :func:`predict_images` gives, with ``row`` (1-based, Kaggle's ImageId) in place of ``path``.

    The rows are images as the training data was stored, so they are only normalised; their size must be
    the run's.
    """
    if not Path(csv_path).is_file():
        found = "a folder" if Path(csv_path).is_dir() else "no such file"
        raise ImgbenchError(f"{csv_path}: expected a Kaggle CSV file of images, found {found}")
    logits_of, pre = open_model(run_dir, weights)
    names, shape = pre["class_names"], tuple(pre["image_shape"])
    X, _ = read_csv(csv_path)
    if X.shape[1:] != shape:
        raise ImgbenchError(
            f"{csv_path}: expected images of {'x'.join(map(str, shape))} (channels x height x width) as the model "
            f"was trained on, found {'x'.join(map(str, X.shape[1:]))} ({X.shape[2] * X.shape[3]} pixel columns)"
        )
    probs = softmax(logits_of(Normalizer.from_dict(pre)(X)))
    k = max(1, min(top_k, len(names)))
    return [{"row": i, **ranked(p, names, k)} for i, p in enumerate(probs, 1)]


def unreadable_summary(results: list[dict], shown: int = 3) -> str | None:
    """None when every image was predicted; otherwise one message: how many failed, and the first few reasons."""
    errors = [r["error"] for r in results if "error" in r]
    if not errors:
        return None
    more = f"; and {len(errors) - shown} more" if len(errors) > shown else ""
    return f"{len(errors)} of {len(results)} images could not be read: " + "; ".join(errors[:shown]) + more

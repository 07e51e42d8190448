"""Predicting the class of a user's own images with a trained run."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..data import Normalizer
from ..data.formats.folder import IMAGE_SUFFIXES
from ..data.images import image_to_input
from ..errors import ImgbenchError
from ..evaluation import softmax
from .runner import open_run

BATCH_IMAGES = 256  # images decoded and predicted at a time, so a large folder needs little memory


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
    """One result per image: the top-k labels with probabilities, and every class's probability.

    A folder stands for the images in it, recursively and sorted by path.  Each image is converted to
    look like the training data (colour mode, size, and for MNIST-style digits the classic
    invert/crop/centre steps).  An image that cannot be read gets ``{"path", "error"}`` instead,
    and the others are predicted all the same (see :func:`unreadable_summary`).
    """
    _, engine, pre = open_run(run_dir, weights)
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
            probs = softmax(engine.predict_logits(normalizer(np.stack(X))))
            for entry, p in zip(readable, probs, strict=True):
                order = np.argsort(-p)[:k]
                entry.update(
                    {
                        "label": names[order[0]],
                        "probability": float(p[order[0]]),
                        "top_k": [{"label": names[i], "probability": float(p[i])} for i in order],
                        "probabilities": {n: float(v) for n, v in zip(names, p, strict=True)},
                    }
                )
        results.extend(entries)
    return results


def unreadable_summary(results: list[dict], shown: int = 3) -> str | None:
    """None when every image was predicted; otherwise one message: how many failed, and the first few reasons."""
    errors = [r["error"] for r in results if "error" in r]
    if not errors:
        return None
    more = f"; and {len(errors) - shown} more" if len(errors) > shown else ""
    return f"{len(errors)} of {len(results)} images could not be read: " + "; ".join(errors[:shown]) + more

"""Predicting the class of a user's own images with a trained run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import Normalizer
from ..data.images import image_to_input
from ..evaluation import softmax
from .runner import open_run


def predict_images(run_dir: str | Path, paths: list, top_k: int = 3, weights: str = "best") -> list[dict]:
    """One result per image: the top-k labels with probabilities, and every class's probability.

    Each image is converted to look like the training data (colour mode,
    size, and for MNIST-style digits the classic invert/crop/centre steps).
    """
    _, engine, pre = open_run(run_dir, weights)
    names = pre["class_names"]
    shape = tuple(pre["image_shape"])
    style = pre.get("style", "fit")
    dark = pre.get("dark_background", False)
    X = np.stack([image_to_input(p, shape, style, dark) for p in paths])
    probs = softmax(engine.predict_logits(Normalizer.from_dict(pre)(X)))
    k = max(1, min(top_k, len(names)))
    results = []
    for path, p in zip(paths, probs, strict=True):
        order = np.argsort(-p)[:k]
        results.append(
            {
                "path": str(path),
                "label": names[order[0]],
                "probability": float(p[order[0]]),
                "top_k": [{"label": names[i], "probability": float(p[i])} for i in order],
                "probabilities": {n: float(v) for n, v in zip(names, p, strict=True)},
            }
        )
    return results

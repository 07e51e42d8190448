"""Numbers that describe a dataset: what ``imgbench data info`` prints."""

from __future__ import annotations

from typing import Any

import numpy as np

from .dataset import Dataset
from .splits import channel_stats


def describe(ds: Dataset) -> dict[str, Any]:
    """Split sizes, image shape, dtype, class names, per-class counts and pixel statistics.

    Pixel mean and std are per channel, in 0-255 units, computed over every
    pixel of the split.
    """
    splits: dict[str, dict[str, Any]] = {}
    out: dict[str, Any] = {
        "name": ds.name,
        "source": ds.source,
        "image_shape": list(ds.image_shape),
        "dtype": str(ds.X_train.dtype),
        "num_classes": ds.num_classes,
        "class_names": list(ds.class_names),
        "splits": splits,
    }
    for split in ("train", "test"):
        X, y = getattr(ds, f"X_{split}"), getattr(ds, f"y_{split}")
        mean, std = channel_stats(X)
        splits[split] = {
            "count": int(len(X)),
            "class_counts": np.bincount(y, minlength=ds.num_classes).astype(int).tolist(),
            "pixel_mean": [round(float(m), 4) for m in mean],
            "pixel_std": [round(float(s), 4) for s in std],
        }
    if ds.meta.get("skipped"):
        out["skipped_files"] = list(ds.meta["skipped"])
    return out


def format_text(d: dict[str, Any]) -> str:
    """Human-readable rendering of :func:`describe`."""
    c, h, w = d["image_shape"]
    lines = [
        f"dataset      {d['name']}",
        f"source       {d['source']}",
        f"images       {c}x{h}x{w} {d['dtype']} (channels x height x width)",
        f"classes      {d['num_classes']}",
    ]
    for split, s in d["splits"].items():
        mean = ", ".join(f"{m:.2f}" for m in s["pixel_mean"])
        std = ", ".join(f"{v:.2f}" for v in s["pixel_std"])
        lines.append(f"{split:<12} {s['count']} images, pixel mean {mean}, std {std}")
    width = max(5, *(len(n) for n in d["class_names"]))
    lines.append("")
    lines.append(f"{'class':<{width}}  {'train':>7}  {'test':>7}")
    for k, name in enumerate(d["class_names"]):
        tr = d["splits"]["train"]["class_counts"][k]
        te = d["splits"]["test"]["class_counts"][k]
        lines.append(f"{name:<{width}}  {tr:>7}  {te:>7}")
    if d.get("skipped_files"):
        lines.append(f"\nskipped {len(d['skipped_files'])} unreadable file(s)")
    return "\n".join(lines)

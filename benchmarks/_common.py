"""Shared by the benchmark scripts: the command-line options every training benchmark takes."""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def training_parser(doc: str) -> argparse.ArgumentParser:
    """A parser with --datasets, --dataset, --model and --batch-size."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument(
        "--datasets",
        default=str(REPO.parent / "shared" / "datasets"),
        help="folder holding mnist/, fashion-mnist/, cifar10-jpg/",
    )
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--model", default="cnn-small")
    ap.add_argument("--batch-size", type=int, default=128)
    return ap

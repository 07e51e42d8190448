"""Prediction files: Kaggle's submission CSV, and the full table of predictions as CSV or JSON.

The suffix of the file picks its format, and the input decides what a CSV holds:

- ``.csv`` of the rows of a Kaggle CSV (``predict --csv``): Kaggle's submission, the header ``ImageId,Label``
  then one line per row of the input, in order: its number counted from 1 and the predicted class index
  (the Digit Recognizer format);
- ``.csv`` of image files: the table, one line per image: ``file,label,class_index,probability``, then
  ``label_2,probability_2`` and so on up to the top k, and ``error`` (why an image could not be read);
- ``.json``: every result as ``predict --json`` prints it (``row`` or ``path``, label, class index, top k
  and every class's probability).

Each file is written under a temporary name and renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import ImgbenchError
from ..fileio import atomic_write, write_json

SUFFIXES = (".csv", ".json")
SUBMISSION_HEADER = ("ImageId", "Label")


def output_format(path: str | Path) -> str:
    """``csv`` or ``json``, as the suffix of the predictions file ``path`` says; another is an ImgbenchError."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        found = f"'{suffix}'" if suffix else "no suffix"
        raise ImgbenchError(f"{path}: expected a predictions file ending in .csv or .json, found {found}")
    return suffix[1:]


def is_submission(path: str | Path, results: list[dict]) -> bool:
    """Is ``path`` Kaggle's submission: a ``.csv`` of the rows of a CSV (results with a ``row``)?"""
    return output_format(path) == "csv" and bool(results) and "row" in results[0]


def _write_rows(path: str | Path, header: list[str], rows: list[list]) -> None:
    with atomic_write(path, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_submission(path: str | Path, results: list[dict]) -> None:
    """Kaggle's submission: ``ImageId,Label``, the row's number (from 1) and its predicted class index."""
    _write_rows(path, list(SUBMISSION_HEADER), [[r["row"], r["class_index"]] for r in results])


def write_table(path: str | Path, results: list[dict]) -> None:
    """One line per image: file, top label, class index and probability, the next labels of the top k, error."""
    k = max((len(r.get("top_k", ())) for r in results), default=1)
    header = ["file", "label", "class_index", "probability"]
    for rank in range(2, k + 1):
        header += [f"label_{rank}", f"probability_{rank}"]
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["path"], *[""] * (len(header) - 1), r["error"]])
            continue
        cells = [r["path"], r["label"], r["class_index"], f"{r['probability']:.6g}"]
        for t in r["top_k"][1:]:
            cells += [t["label"], f"{t['probability']:.6g}"]
        rows.append(cells + [""] * (len(header) - len(cells)) + [""])
    _write_rows(path, [*header, "error"], rows)


def save_predictions(path: str | Path, results: list[dict]) -> str:
    """Write the results of ``predict_images`` or ``predict_csv`` to ``path`` (see the module docstring).

    Returns what was written: ``submission``, ``table`` or ``json``.
    """
    if output_format(path) == "json":
        write_json(path, results)
        return "json"
    if is_submission(path, results):
        write_submission(path, results)
        return "submission"
    write_table(path, results)
    return "table"

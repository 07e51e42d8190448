"""Part of a dataset, as a name asks for it (:mod:`.names`): some classes (``mnist[5-9]``), a few training
images per class (``mnist@10``), or both."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import DataFormatError
from .dataset import Dataset
from .names import Selection


def select(ds: Dataset, selection: Selection) -> Dataset:
    """``ds`` (the whole dataset ``selection.base`` names) cut down as ``selection`` says: classes first."""
    if selection.classes is not None:
        ds = select_classes(ds, selection.classes)
    return ds if selection.per_class is None else take_per_class(ds, selection.per_class)


def select_classes(ds: Dataset, classes: tuple[int, ...]) -> Dataset:
    """``ds`` with only the images of ``classes`` (label numbers) in both splits, relabelled 0..k-1 in that
    order and keeping their names, named ``NAME[classes]``: half of a dataset to pretrain on, the other half
    to learn with few labels."""
    n = len(ds.class_names)
    named = Selection(ds.name, classes).name()
    missing = [k for k in classes if k >= n]
    if missing:
        raise DataFormatError(
            f"{named}: expected classes among 0-{n - 1}, found {', '.join(map(str, missing))} "
            f"(the classes are {', '.join(ds.class_names)})"
        )
    relabel = np.full(n, -1, dtype=np.int64)
    relabel[list(classes)] = np.arange(len(classes))
    train, test = np.isin(ds.y_train, classes), np.isin(ds.y_test, classes)
    meta = {**ds.meta, "classes": {"kept": list(classes), "of": ds.name}}
    return replace(
        ds,
        name=named,
        X_train=ds.X_train[train],
        y_train=relabel[ds.y_train[train]],
        X_test=ds.X_test[test],
        y_test=relabel[ds.y_test[test]],
        class_names=tuple(ds.class_names[k] for k in classes),
        meta=meta,
    )


def take_per_class(ds: Dataset, per_class: int) -> Dataset:
    """``ds`` with only the first ``per_class`` training images of each class (in the order the files hold
    them), the test split whole, named ``NAME@N``.

    The first images, not a random draw: the subset is the same for every seed and every engine, so runs on
    it differ only in what the seed changes (initialisation, shuffling), and the comparison between them is
    paired.  A class with fewer images keeps them all, which the subset's ``meta`` records.
    """
    y = ds.y_train
    keep = np.sort(np.concatenate([np.flatnonzero(y == k)[:per_class] for k in range(len(ds.class_names))]))
    counts = np.bincount(y[keep], minlength=len(ds.class_names))
    short = [ds.class_names[k] for k in np.flatnonzero(counts < per_class)]
    meta = {**ds.meta, "subset": {"per_class": per_class, "of": ds.name, "train_images": int(len(keep))}}
    if short:
        meta["subset"]["classes_with_fewer"] = short
    return replace(ds, name=f"{ds.name}@{per_class}", X_train=ds.X_train[keep], y_train=y[keep], meta=meta)

"""Dataset names: ``mnist`` and the other catalog names, or ``<format>:PATH`` for a user's own data; either
may end in ``@N``, the first N training images of each class (a small labelled subset, as in transfer learning).

Every question about a name (which format, which canonical spelling, how to
show it, how to record it) is answered here through the format registry.
"""

from __future__ import annotations

import re

from ..errors import ImgbenchError
from .catalog import ALIASES, CATALOG
from .formats import FORMATS, DatasetFormat, path_format, path_formats

_SUBSET = re.compile(r"^(?P<base>.+)@(?P<per_class>[^@/\\]*)$")


def split_subset(name: str) -> tuple[str, int | None]:
    """``("mnist", 10)`` for ``mnist@10`` (10 training images per class); ``(name, None)`` without ``@N``."""
    m = _SUBSET.match(name)
    if m is None:
        return name, None
    text = m["per_class"]
    if not text.isdigit() or int(text) < 1:
        raise ImgbenchError(
            f"dataset '{name}': expected '@N' with N a whole number of training images per class (at least 1) "
            f"after the name, found '@{text}'"
        )
    return m["base"], int(text)


def _with_subset(base: str, per_class: int | None) -> str:
    return base if per_class is None else f"{base}@{per_class}"


def resolve_name(name: str) -> str:
    """Canonical dataset name (aliases and case folded); ``<format>:PATH`` kept as given; ``@N`` kept."""
    base, per_class = split_subset(name)
    if path_format(base) is not None:
        return name
    key = base.lower()
    key = ALIASES.get(key, key)
    if key not in CATALOG:
        raise ImgbenchError(f"unknown dataset '{name}': expected one of {dataset_choices()}")
    return _with_subset(key, per_class)


def dataset_choices() -> str:
    """Every kind of name :func:`~imgbench.data.load_dataset` takes, for help texts and errors:
    ``mnist, fashion-mnist, cifar10, digits, folder:PATH or csv:PATH``."""
    choices = [*CATALOG, *(f"{fmt.name}:PATH" for fmt in path_formats())]
    return f"{', '.join(choices[:-1])} or {choices[-1]}"


def format_of(name: str) -> DatasetFormat:
    """The format that reads dataset ``name`` (a catalog name, an alias or ``<format>:PATH``)."""
    base = split_subset(name)[0]
    fmt = path_format(base)
    return fmt if fmt is not None else FORMATS[CATALOG[split_subset(resolve_name(name))[0]].format]


def short_name(name: str) -> str:
    """A dataset name fit for run names and tables: ``mnist`` for ``mnist``, ``cifar10-jpg`` for
    ``folder:/data/cifar10-jpg``."""
    base, per_class = split_subset(name)
    fmt = path_format(base)
    return _with_subset(fmt.short_name(base) if fmt is not None else base, per_class)


def absolute_dataset_name(name: str) -> str:
    """``name`` with the PATH of ``<format>:PATH`` made absolute (``~`` expanded); other names unchanged.

    Run records store this form, so evaluating or resuming a run from another
    working directory reads the same files.
    """
    base, per_class = split_subset(name)
    fmt = path_format(base)
    return _with_subset(fmt.absolute_name(base) if fmt is not None else base, per_class)

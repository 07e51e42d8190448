"""Dataset names: ``mnist`` and the other catalog names, or ``<format>:PATH`` for a user's own data.

Every question about a name (which format, which canonical spelling, how to
show it, how to record it) is answered here through the format registry.
"""

from __future__ import annotations

from ..errors import ImgbenchError
from .catalog import ALIASES, CATALOG
from .formats import FORMATS, DatasetFormat, path_format, path_formats


def resolve_name(name: str) -> str:
    """Canonical dataset name (aliases and case folded); ``<format>:PATH`` kept as given."""
    if path_format(name) is not None:
        return name
    key = name.lower()
    key = ALIASES.get(key, key)
    if key not in CATALOG:
        raise ImgbenchError(f"unknown dataset '{name}': expected one of {dataset_choices()}")
    return key


def dataset_choices() -> str:
    """Every kind of name :func:`~imgbench.data.load_dataset` takes, for help texts and errors:
    ``mnist, fashion-mnist, cifar10, digits, folder:PATH or csv:PATH``."""
    choices = [*CATALOG, *(f"{fmt.name}:PATH" for fmt in path_formats())]
    return f"{', '.join(choices[:-1])} or {choices[-1]}"


def format_of(name: str) -> DatasetFormat:
    """The format that reads dataset ``name`` (a catalog name, an alias or ``<format>:PATH``)."""
    fmt = path_format(name)
    return fmt if fmt is not None else FORMATS[CATALOG[resolve_name(name)].format]


def short_name(name: str) -> str:
    """A dataset name fit for run names and tables: ``mnist`` for ``mnist``, ``cifar10-jpg`` for
    ``folder:/data/cifar10-jpg``."""
    fmt = path_format(name)
    return fmt.short_name(name) if fmt is not None else name


def absolute_dataset_name(name: str) -> str:
    """``name`` with the PATH of ``<format>:PATH`` made absolute (``~`` expanded); other names unchanged.

    Run records store this form, so evaluating or resuming a run from another
    working directory reads the same files.
    """
    fmt = path_format(name)
    return fmt.absolute_name(name) if fmt is not None else name

"""Dataset names: ``mnist`` and the other catalog names, or ``<format>:PATH`` for a user's own data.

Either may select part of the data: ``[5-9]`` (or ``[0,2,4]``) keeps only those classes, by label number, in
both splits (relabelled 0..k-1 in that order, their names kept); ``@N`` keeps the first N training images of
each class (a small labelled subset).  ``mnist[5-9]@10`` is both: the transfer-learning setting of learning
five new classes from 50 images.

Every question about a name (which format, which canonical spelling, how to
show it, how to record it) is answered here through the format registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ImgbenchError
from .catalog import ALIASES, CATALOG
from .formats import FORMATS, DatasetFormat, path_format, path_formats

_SELECTION = re.compile(r"^(?P<base>.+?)(?:\[(?P<classes>[^\[\]]*)\])?(?:@(?P<per_class>[^@/\\]*))?$")


@dataclass(frozen=True)
class Selection:
    """A dataset name taken apart: the dataset, the classes kept (None: all), training images kept per class."""

    base: str
    classes: tuple[int, ...] | None = None
    per_class: int | None = None

    def name(self, base: str | None = None) -> str:
        """The name again (with another ``base``: its canonical or absolute form)."""
        classes = "" if self.classes is None else f"[{_ranges(self.classes, ',')}]"
        return f"{base or self.base}{classes}" + ("" if self.per_class is None else f"@{self.per_class}")

    def word(self, base: str) -> str:
        """A folder-safe form for run names: ``mnist.5-9@10`` (no brackets or commas, which shells expand)."""
        classes = "" if self.classes is None else f".{_ranges(self.classes, '+')}"
        return f"{base}{classes}" + ("" if self.per_class is None else f"@{self.per_class}")


def _ranges(classes: tuple[int, ...], sep: str) -> str:
    """``5-9`` for 5, 6, 7, 8, 9; ``0+2+4`` (with ``sep`` '+') for 0, 2, 4."""
    if len(classes) > 2 and classes == tuple(range(classes[0], classes[-1] + 1)):
        return f"{classes[0]}-{classes[-1]}"
    return sep.join(map(str, classes))


def _classes(name: str, text: str) -> tuple[int, ...]:
    """``[5-9]`` or ``[0,2,4]`` as class numbers, each once, at least two."""
    found: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if m is None or (m[2] is not None and int(m[2]) < int(m[1])):
            raise ImgbenchError(
                f"dataset '{name}': expected classes as label numbers and ranges, as in [5-9] or [0,2,4], "
                f"found '[{text}]'"
            )
        found += range(int(m[1]), int(m[2] or m[1]) + 1)
    if len(set(found)) != len(found) or len(found) < 2:
        raise ImgbenchError(
            f"dataset '{name}': expected at least two different classes in '[{text}]', "
            f"found {', '.join(map(str, found))}"
        )
    return tuple(found)


def parse_selection(name: str) -> Selection:
    """``Selection("mnist", (5, 6, 7, 8, 9), 10)`` for ``mnist[5-9]@10``; ``Selection(name)`` for a plain name."""
    m = _SELECTION.match(name)
    if m is None or (m["classes"] is None and m["per_class"] is None):
        return Selection(name)
    per_class = m["per_class"]
    if per_class is not None and (not per_class.isdigit() or int(per_class) < 1):
        raise ImgbenchError(
            f"dataset '{name}': expected '@N' with N a whole number of training images per class (at least 1) "
            f"after the name, found '@{per_class}'"
        )
    classes = _classes(name, m["classes"]) if m["classes"] is not None else None
    return Selection(m["base"], classes, int(per_class) if per_class is not None else None)


def resolve_name(name: str) -> str:
    """Canonical dataset name (aliases and case folded); ``<format>:PATH`` kept as given; a selection kept."""
    selection = parse_selection(name)
    if path_format(selection.base) is not None:
        return name
    key = selection.base.lower()
    key = ALIASES.get(key, key)
    if key not in CATALOG:
        raise ImgbenchError(f"unknown dataset '{name}': expected one of {dataset_choices()}")
    return selection.name(key)


def dataset_choices() -> str:
    """Every kind of name :func:`~imgbench.data.load_dataset` takes, for help texts and errors:
    ``mnist, fashion-mnist, cifar10, digits, folder:PATH or csv:PATH``."""
    choices = [*CATALOG, *(f"{fmt.name}:PATH" for fmt in path_formats())]
    return f"{', '.join(choices[:-1])} or {choices[-1]}"


def format_of(name: str) -> DatasetFormat:
    """The format that reads dataset ``name`` (a catalog name, an alias or ``<format>:PATH``)."""
    fmt = path_format(parse_selection(name).base)
    return fmt if fmt is not None else FORMATS[CATALOG[parse_selection(resolve_name(name)).base].format]


def short_name(name: str) -> str:
    """A dataset name fit for run names and tables: ``mnist`` for ``mnist``, ``cifar10-jpg`` for
    ``folder:/data/cifar10-jpg``, ``mnist.5-9@10`` for ``mnist[5-9]@10``."""
    selection = parse_selection(name)
    fmt = path_format(selection.base)
    return selection.word(fmt.short_name(selection.base) if fmt is not None else selection.base)


def absolute_dataset_name(name: str) -> str:
    """``name`` with the PATH of ``<format>:PATH`` made absolute (``~`` expanded); other names unchanged.

    Run records store this form, so evaluating or resuming a run from another
    working directory reads the same files.
    """
    selection = parse_selection(name)
    fmt = path_format(selection.base)
    return selection.name(fmt.absolute_name(selection.base) if fmt is not None else selection.base)

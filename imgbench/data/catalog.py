"""The named datasets: their format, files, checksums, mirrors and class names.

Each named dataset is declared once, as an entry of ``catalog.yaml`` beside
this module, and read here into a :class:`DatasetInfo` of :data:`CATALOG`;
adding one in a format imgbench already reads is one entry there (with its
``aliases``, the other names it goes by).  Every value is checked as it is
read, so a mistake in the file fails at import, naming the entry.

``sha256`` is the checksum of the file as published (what a download is
checked against).  ``content_sha256`` is the checksum of the decompressed IDX
content, which ``imgbench data verify`` uses: it holds for recompressed
copies too (e.g. a Debian package or a mirror that re-gzipped the files).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..fileio import read_yaml


@dataclass(frozen=True)
class RemoteFile:
    """One file of a named dataset."""

    name: str
    sha256: str
    content_sha256: str | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """What imgbench knows about a named dataset before loading it.

    ``format`` is the key of its entry in :data:`imgbench.data.formats.FORMATS`
    (how its files are found and read); ``split_sizes`` are the train and test
    counts of the canonical release, which ``imgbench data verify`` checks.
    """

    name: str
    title: str
    image_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    files: tuple[RemoteFile, ...] = ()
    mirrors: tuple[str, ...] = ()
    archive: RemoteFile | None = None  # downloaded then unpacked (CIFAR-10)
    description: str = ""
    format: str = "idx"
    split_sizes: tuple[int, int] | None = None


CATALOG_FILE = Path(__file__).with_name("catalog.yaml")
_REQUIRED = ("title", "image_shape", "class_names", "format", "description")
_OPTIONAL = ("files", "archive", "mirrors", "split_sizes", "aliases")


def _checked(value: Any, ok: bool, expected: str, where: str) -> Any:
    """``value`` when ``ok``; otherwise a :class:`ValueError` naming the place in catalog.yaml (a mistake there)."""
    if not ok:
        raise ValueError(f"{CATALOG_FILE}: {where} must be {expected}, got {value!r}")
    return value


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    text: str = _checked(entry[key], isinstance(entry[key], str) and entry[key], "a non-empty string", where)
    return text


def _texts(value: Any, where: str) -> tuple[str, ...]:
    ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
    return tuple(_checked(value, ok, "a list of non-empty strings", where))


def _counts(value: Any, n: int, where: str) -> tuple[int, ...]:
    ok = isinstance(value, list) and len(value) == n and all(type(v) is int and v > 0 for v in value)
    return tuple(_checked(value, ok, f"a list of {n} positive integers", where))


def _remote_file(value: Any, where: str) -> RemoteFile:
    ok = isinstance(value, dict) and {"name", "sha256"} <= set(value) <= {"name", "sha256", "content_sha256"}
    ok = ok and all(isinstance(v, str) for v in value.values())
    return RemoteFile(**_checked(value, ok, "a mapping of name, sha256 and content_sha256 (strings)", where))


def _dataset(name: str, entry: Any) -> DatasetInfo:
    """One entry of catalog.yaml, checked (its ``aliases`` go to :data:`ALIASES`)."""
    ok = isinstance(entry, dict) and set(_REQUIRED) <= set(entry) <= {*_REQUIRED, *_OPTIONAL}
    _checked(entry, ok, f"a mapping of {', '.join(_REQUIRED)} and optionally {', '.join(_OPTIONAL)}", name)
    c, h, w = _counts(entry["image_shape"], 3, f"{name}.image_shape")
    split_sizes = None
    if "split_sizes" in entry:
        train, test = _counts(entry["split_sizes"], 2, f"{name}.split_sizes")
        split_sizes = (train, test)
    return DatasetInfo(
        name=name,
        title=_text(entry, "title", f"{name}.title"),
        image_shape=(c, h, w),
        class_names=_texts(entry["class_names"], f"{name}.class_names"),
        files=tuple(_remote_file(f, f"{name}.files") for f in entry.get("files", [])),
        mirrors=_texts(entry.get("mirrors", []), f"{name}.mirrors"),
        archive=_remote_file(entry["archive"], f"{name}.archive") if "archive" in entry else None,
        description=_text(entry, "description", f"{name}.description"),
        format=_text(entry, "format", f"{name}.format"),
        split_sizes=split_sizes,
    )


def _read_catalog() -> tuple[dict[str, DatasetInfo], dict[str, str]]:
    """The datasets of catalog.yaml by name, and the other names they go by (alias -> name)."""
    entries = read_yaml(CATALOG_FILE, "named datasets")
    catalog = {name: _dataset(name, entry) for name, entry in entries.items()}
    aliases = {a: name for name, entry in entries.items() for a in _texts(entry.get("aliases", []), f"{name}.aliases")}
    return catalog, aliases


CATALOG, ALIASES = _read_catalog()
# The entries that code names directly (their formats' readers and tests).
MNIST, FASHION_MNIST, CIFAR10, DIGITS = (CATALOG[name] for name in ("mnist", "fashion-mnist", "cifar10", "digits"))

"""What a setting accepts, and its one error type.

A :class:`Kind` checks a value and normalises it (an integer in a range, a finite number, one of a
registry's names, a flag, a name, a list of those) and words what it allows for messages and help.
A :class:`Setting` pairs a kind with a default and a help text; :func:`setting` declares one as a
dataclass field, so a settings class (:mod:`imgbench.settings`) holds each definition once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import numbers
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import ImgbenchError, did_you_mean


class SettingError(ImgbenchError):
    """A setting has a value it does not allow, an unknown name, or contradicts another setting."""


@contextlib.contextmanager
def located(where: str) -> Iterator[None]:
    """Put ``where`` (a file, a study group) in front of a :class:`SettingError` raised in the block."""
    try:
        yield
    except SettingError as exc:
        raise SettingError(f"{where}: {exc}") from None


def check_keys(given: Iterable[str], known: Collection[str], what: str, elsewhere: Mapping[str, str] = {}) -> None:
    """Unknown names in ``given`` are a :class:`SettingError` with a "did you mean" for each.

    ``elsewhere`` maps names that belong somewhere else to where (``{"epochs": "train.epochs"}``), so a
    setting in the wrong section gets the right suggestion.
    """
    unknown = sorted(set(given) - set(known), key=str)
    if unknown:
        words = {**{k: k for k in known}, **elsewhere}
        close = {k: difflib.get_close_matches(str(k), list(words), n=1) for k in unknown}
        guesses = [f"'{words[c[0]]}'" + (f" for {k!r}" if len(unknown) > 1 else "") for k, c in close.items() if c]
        hint = f" (did you mean {', '.join(guesses)}?)" if guesses else ""
        raise SettingError(f"unknown {what} {unknown}{hint}; expected some of {', '.join(known)}")


# --- kinds of values -----------------------------------------------------------------------------


class _Rejected(Exception):
    """A value a kind does not accept (turned into a SettingError that names the setting)."""


def _number_text(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


@dataclass(frozen=True, kw_only=True)
class Kind:
    """What a setting accepts.  ``optional``: None (YAML ``null``) means "not set" and is allowed."""

    optional: bool = False

    @property
    def expected(self) -> str:
        """The allowed values, in words, for error messages and help."""
        return "a value"

    def accept(self, value: Any) -> Any:
        """``value`` in its normal form (``int``, ``float``, ``str``, ...); :class:`_Rejected` if not allowed."""
        return value

    def parse(self, text: str) -> Any:
        """The value a command-line argument spells."""
        return text

    def hint(self, value: Any) -> str:
        """Extra words for the error on ``value`` (a "did you mean")."""
        return ""


@dataclass(frozen=True)
class Number(Kind):
    """A finite number between ``lo`` and ``hi``; ``open_lo``/``open_hi`` exclude the bound itself."""

    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False
    open_hi: bool = False
    noun: ClassVar[str] = "a finite number"
    numeric: ClassVar[type] = numbers.Real
    convert: ClassVar[type] = float
    reads_text: ClassVar[bool] = True  # YAML 1.1 reads 1e-3 (no dot) as text

    @property
    def expected(self) -> str:
        if self.lo is not None and self.hi is not None:
            left, right = "(" if self.open_lo else "[", ")" if self.open_hi else "]"
            return f"{self.noun} in {left}{_number_text(self.lo)}, {_number_text(self.hi)}{right}"
        if self.lo is not None:
            return f"{self.noun} {'>' if self.open_lo else '>='} {_number_text(self.lo)}"
        return self.noun

    def accept(self, value: Any) -> Any:
        if isinstance(value, str) and self.reads_text:
            value = self.parse(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not isinstance(value, self.numeric):
            raise _Rejected
        if not isinstance(value, numbers.Integral) and not math.isfinite(value):  # an int of any size is finite
            raise _Rejected
        x = self.parse(value)
        low = self.lo is not None and (x <= self.lo if self.open_lo else x < self.lo)
        high = self.hi is not None and (x >= self.hi if self.open_hi else x > self.hi)
        if low or high:
            raise _Rejected
        return x

    def parse(self, text: Any) -> Any:
        try:
            return self.convert(text)
        except (ValueError, OverflowError):  # text that is no number; an integer too large for a float
            raise _Rejected from None


@dataclass(frozen=True)
class Integer(Number):
    """An integer in ``[lo, hi]`` (either bound may be left out)."""

    noun: ClassVar[str] = "an integer"
    numeric: ClassVar[type] = numbers.Integral
    convert: ClassVar[type] = int
    reads_text: ClassVar[bool] = False


@dataclass(frozen=True)
class Choice(Kind):
    """One of the names ``names()`` gives (a registry's keys, read when a value is checked)."""

    names: Callable[[], Iterable[str]]

    @property
    def expected(self) -> str:
        return f"one of {', '.join(self.names())}"

    def accept(self, value: Any) -> str:
        if not isinstance(value, str) or value not in tuple(self.names()):
            raise _Rejected
        return value

    def hint(self, value: Any) -> str:
        return did_you_mean(value, self.names()) if isinstance(value, str) else ""


@dataclass(frozen=True)
class Typed(Kind):
    """A value of type ``types``, described by ``words``."""

    types: type | tuple[type, ...] = object
    words: str = "a value"

    @property
    def expected(self) -> str:
        return self.words

    def accept(self, value: Any) -> Any:
        if not isinstance(value, self.types):
            raise _Rejected
        return value


@dataclass(frozen=True)
class Flag(Typed):
    """True or false (a command-line switch)."""

    types: type | tuple[type, ...] = bool
    words: str = "true or false"


@dataclass(frozen=True)
class Table(Typed):
    """A mapping (a model spec, a section of a study file)."""

    types: type | tuple[type, ...] = Mapping
    words: str = "a mapping"


@dataclass(frozen=True)
class Text(Typed):
    """A non-empty string; with ``pattern``, one that matches it in full (then ``words`` describe it)."""

    types: type | tuple[type, ...] = str
    words: str = "a non-empty string"
    pattern: str | None = None

    def accept(self, value: Any) -> str:
        text: str = super().accept(value)
        if not text or (self.pattern and not re.fullmatch(self.pattern, text)):
            raise _Rejected
        return text


@dataclass(frozen=True)
class ListOf(Kind):
    """A non-empty list of ``item`` values (empty too when ``may_be_empty``); a single value stands for a list
    of one.  On the command line: comma-separated."""

    item: Kind
    may_be_empty: bool = False

    @property
    def expected(self) -> str:
        return f"a {'' if self.may_be_empty else 'non-empty '}list, each {self.item.expected}"

    def accept(self, value: Any) -> list[Any]:
        items = value if isinstance(value, list) else [value]
        if (not items and not self.may_be_empty) or any(v is None for v in items):
            raise _Rejected
        return [self.item.accept(v) for v in items]

    def parse(self, text: str) -> list[Any]:
        return [self.item.parse(part.strip()) for part in text.split(",")]

    def hint(self, value: Any) -> str:
        """Suggestions for the items that are not allowed (an allowed item suggests nothing)."""
        hints = []
        for v in value if isinstance(value, list) else [value]:
            try:
                self.item.accept(v)
            except (_Rejected, SettingError):
                hints.append(self.item.hint(v))
        return "".join(hints)


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One setting: what it accepts, its default and its help; ``group`` is its command-line group
    (empty: no flag)."""

    kind: Kind
    default: Any
    help: str
    group: str = ""
    metavar: str | None = None
    show_default: bool = True  # the flag's help ends with "(default X)"

    def check(self, label: str, value: Any) -> Any:
        """``value`` in its normal form; a :class:`SettingError` naming ``label`` when it is not allowed."""
        if value is None and self.kind.optional:
            return None
        try:
            return self.kind.accept(value)
        except _Rejected:
            hint = self.kind.hint(value)
            raise SettingError(f"{label} must be {self.kind.expected}, got {value!r}{hint}") from None

    def parse(self, label: str, text: str) -> Any:
        """The checked value of a command-line argument."""
        try:
            value = self.kind.parse(text)
        except _Rejected:
            raise SettingError(f"{label} must be {self.kind.expected}, got {text!r}") from None
        return self.check(label, value)


def flag_of(name: str) -> str:
    """The command-line flag of a setting: ``train.batch_size`` -> ``--batch-size``."""
    return "--" + name.rpartition(".")[2].replace("_", "-")


_SETTING = "imgbench.setting"


def setting(
    default: Any, kind: Kind, help: str, group: str = "", metavar: str | None = None, show_default: bool = True
) -> Any:
    """A dataclass field that is a setting (see :class:`Setting`)."""
    return field(default=default, metadata={_SETTING: Setting(kind, default, help, group, metavar, show_default)})


def definitions(cls: type) -> dict[str, Setting]:
    """The settings among a dataclass's fields, by name, in declaration order."""
    return {f.name: f.metadata[_SETTING] for f in dataclasses.fields(cls) if _SETTING in f.metadata}


def check_fields(obj: Any, prefix: str) -> None:
    """Check and normalise every setting of ``obj``; labels are ``prefix + name``."""
    for name, s in definitions(type(obj)).items():
        setattr(obj, name, s.check(prefix + name, getattr(obj, name)))


def fields_from(cls: type, d: Any, what: str, prefix: str = "", elsewhere: Mapping[str, str] = {}) -> dict[str, Any]:
    """Keyword arguments for ``cls`` from a mapping (a YAML section): names known, values checked.

    ``what`` names the settings in messages (``training settings``); labels are ``prefix + name``.
    """
    if not isinstance(d, Mapping):
        raise SettingError(f"{prefix.rstrip('.') or what} must be a mapping of {what}, got {d!r}")
    known = definitions(cls)
    check_keys(d, known, what, elsewhere)
    return {k: known[k].check(prefix + k, v) for k, v in d.items()}

"""What a layer key accepts: the checks the layer registry attaches to each key, and the spec error type."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ImgbenchError, did_you_mean

INITS = ("he_uniform", "he_normal", "glorot_uniform", "glorot_normal")


class SpecError(ImgbenchError):
    """A model spec is malformed or does not fit its input shape."""


@dataclass(frozen=True)
class Key:
    """What one layer key accepts: a test and the words an error message uses for it."""

    expected: str
    accepts: Callable[[Any], bool]
    choices: tuple[str, ...] = ()  # named options, for a "did you mean" suggestion

    def check(self, layer: dict[str, Any], key: str) -> None:
        """Raise :class:`SpecError` unless ``layer[key]`` is acceptable."""
        value = layer[key]
        if not self.accepts(value):
            hint = did_you_mean(value, self.choices) if isinstance(value, str) else ""
            raise SpecError(f"{layer['name']}: {key} must be {self.expected}, got {value!r}{hint}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def one_of(*choices: str) -> Key:
    """A key that takes one of the named ``choices``."""
    return Key(f"one of {', '.join(choices)}", lambda v: v in choices, choices)


def _is_layer_list(v: Any) -> bool:
    return isinstance(v, list)


POSITIVE_INT = Key("a positive integer", lambda v: _is_int(v) and v >= 1)
BOOL = Key("true or false", lambda v: isinstance(v, bool))
NUMBER = Key("a number", _is_number)
POSITIVE = Key("a positive number", lambda v: _is_number(v) and v > 0)
FRACTION = Key("a number in [0, 1]", lambda v: _is_number(v) and 0 <= v <= 1)
RATE = Key("a number in [0, 1)", lambda v: _is_number(v) and 0 <= v < 1)
INIT = one_of(*INITS)
PADDING = Key("'valid', 'same' or an integer >= 0", lambda v: v in ("valid", "same") or (_is_int(v) and v >= 0))
LAYER_LIST = Key("a list of layers", _is_layer_list)
BRANCHES = Key(
    "a list of two or more layer lists", lambda v: _is_layer_list(v) and len(v) >= 2 and all(map(_is_layer_list, v))
)
UNITS = Key("a positive integer or 'num_classes'", lambda v: _is_int(v) and v >= 1)

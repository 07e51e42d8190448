"""Preset studies, each reproducing a classic comparison (``imgbench compare --preset NAME``).

They are study files, kept together in ``presets.yaml`` beside this module
and keyed by name.  Where the classic study published figures, they sit in
``reported`` and the report prints them beside ours.  They are the figures as
those studies reported them (rounded), not something imgbench measured.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ImgbenchError, did_you_mean
from ..fileio import read_yaml
from .studyfile import Study, parse_study

PRESETS: dict[str, dict] = read_yaml(Path(__file__).with_name("presets.yaml"), "preset studies")


def preset(name: str) -> Study:
    """The preset study called ``name``."""
    if name not in PRESETS:
        raise ImgbenchError(
            f"unknown preset '{name}'{did_you_mean(name, PRESETS)}: expected one of {', '.join(PRESETS)}"
        )
    return parse_study({"name": name, **PRESETS[name]}, f"preset {name}")

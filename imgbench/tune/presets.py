"""Preset search spaces (``imgbench tune --preset NAME``), kept in ``presets.yaml`` beside this module."""

from __future__ import annotations

from pathlib import Path

from ..errors import ImgbenchError, did_you_mean
from ..fileio import read_yaml
from .space import Space, load_space, parse_space

PRESETS: dict[str, dict] = read_yaml(Path(__file__).with_name("presets.yaml"), "preset search spaces")


def chosen_space(space_file: str | Path | None = None, preset_name: str | None = None) -> Space:
    """The space in ``space_file`` or the preset ``preset_name`` (exactly one of them)."""
    if bool(space_file) == bool(preset_name):
        raise ImgbenchError("give a search-space file or --preset NAME (one of them; see --list-presets)")
    if space_file:
        return load_space(space_file)
    assert preset_name is not None
    if preset_name not in PRESETS:
        raise ImgbenchError(
            f"unknown preset '{preset_name}'{did_you_mean(preset_name, PRESETS)}: expected one of {', '.join(PRESETS)}"
        )
    return parse_space({"name": preset_name, **PRESETS[preset_name]}, f"preset {preset_name}")

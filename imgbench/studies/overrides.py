"""The study a command asks for: a study file or a preset, with this invocation's changes applied."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ImgbenchError
from ..kinds import definitions, flag_of
from ..settings import STUDY_KEYS, TrainConfig
from .presets import preset
from .studyfile import Study, load_study


def chosen_study(study_file: str | None = None, preset_name: str | None = None) -> Study:
    """The study in ``study_file`` or the preset ``preset_name`` (exactly one of them)."""
    if preset_name and not study_file:
        return preset(preset_name)
    if study_file and not preset_name:
        return load_study(study_file)
    raise ImgbenchError("give a study file or --preset NAME (one of them; see --list-presets)")


def _listed(flag: str, value: str | Sequence, key: str) -> list:
    """``value`` checked as the study key ``key`` defines it; text is comma-separated, as on the command line."""
    if isinstance(value, str):
        return list(STUDY_KEYS[key].parse(flag, value))
    return list(STUDY_KEYS[key].check(flag, list(value)))


def with_overrides(
    study: Study,
    *,
    seeds: str | Sequence[int] | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    engines: str | Sequence[str] | None = None,
) -> Study:
    """``study`` changed for one invocation; each given value replaces the study's and its groups' own.

    ``seeds`` and ``engines`` are lists or comma-separated text, as on the command line; ``engines``
    keeps only the runs of those engines.  Each value is checked as the study file's own would be.
    """
    if seeds is not None:
        study.seeds = _listed("--seeds", seeds, "seeds")
        for g in study.groups:
            g.pop("seeds", None)
    train = definitions(TrainConfig)
    for key, value in (("epochs", epochs), ("max_steps", max_steps)):
        if value is not None:
            study.train[key] = train[key].check(flag_of(key), value)
            for g in study.groups:
                g.get("train", {}).pop(key, None)
    if engines is not None:
        wanted = _listed("--engines", engines, "engines")
        for g in study.groups:
            g["engines"] = [e for e in g["engines"] if e in wanted]
        study.groups = [g for g in study.groups if g["engines"]]
        if not study.groups:
            raise ImgbenchError(f"--engines {','.join(wanted)}: no run of this study uses those engines")
    return study

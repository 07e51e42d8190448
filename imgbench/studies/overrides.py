"""The study a command asks for: a study file or a preset, with this invocation's changes applied."""

from __future__ import annotations

from ..errors import ImgbenchError
from .presets import preset
from .studyfile import Study, load_study


def chosen_study(study_file: str | None = None, preset_name: str | None = None) -> Study:
    """The study in ``study_file`` or the preset ``preset_name`` (exactly one of them)."""
    if preset_name and not study_file:
        return preset(preset_name)
    if study_file and not preset_name:
        return load_study(study_file)
    raise ImgbenchError("give a study file or --preset NAME (one of them; see --list-presets)")


def with_overrides(
    study: Study,
    *,
    seeds: str | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    engines: str | None = None,
) -> Study:
    """``study`` changed for one invocation; each given value replaces the study's and its groups' own.

    ``seeds`` and ``engines`` are comma-separated, as on the command line; ``engines`` keeps only the runs
    of those engines.
    """
    if seeds:
        try:
            study.seeds = [int(x) for x in seeds.split(",")]
        except ValueError:
            raise ImgbenchError(f"--seeds takes comma-separated integers, found '{seeds}'") from None
        for g in study.groups:
            g.pop("seeds", None)
    for key, value in (("epochs", epochs), ("max_steps", max_steps)):
        if value is not None:
            study.train[key] = value
            for g in study.groups:
                g.get("train", {}).pop(key, None)
    if engines:
        wanted = engines.split(",")
        for g in study.groups:
            g["engines"] = [e for e in g["engines"] if e in wanted]
        study.groups = [g for g in study.groups if g["engines"]]
        if not study.groups:
            raise ImgbenchError(f"--engines {engines}: no run of this study uses those engines")
    return study

"""MkDocs hook: the settings reference page, generated from ``imgbench/settings.py`` at build time.

Every setting is defined once there (kind, default, help); this page tabulates those definitions: the keys of a
study file, the training settings (a study's or a ``config.yaml``'s ``train:`` section) and the other run
settings, each with the command-line flag derived from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

PAGE = "reference/settings.md"
INTRO = """\
# Settings

Every setting has one definition in `imgbench/settings.py`: what it accepts, its default and its help. The
command-line flags, study files, `--config` files and the Python API (`imgbench.RunSettings`) are all checked
against it, so a bad value is the same one-line error wherever it comes from. The tables below are generated
from those definitions.
"""


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(rows: Iterable[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _default(value: object) -> str:
    return "" if value is None or value == "" else f"`{value!r}`" if isinstance(value, str) else f"`{value}`"


def _rows(settings: Mapping, prefix: str = "") -> Iterable[tuple[str, ...]]:
    from imgbench.kinds import flag_of

    for name, s in settings.items():
        flag = f"`{flag_of(name)}`" if s.group else ""
        yield f"`{prefix}{name}`", flag, s.kind.expected, _default(s.default), s.help


def settings_markdown() -> str:
    """The page: one table for the study file's keys, one for ``train:``, one for the other run settings."""
    from imgbench.kinds import definitions
    from imgbench.settings import GROUP_KEYS, STUDY_KEYS, STUDY_RUN_SETTINGS, RunSettings, TrainConfig

    header = ("setting", "flag", "accepts", "default", "what it does")
    run = definitions(RunSettings)
    in_studies = ", ".join(f"`{name}`" for name in STUDY_RUN_SETTINGS)
    in_groups = ", ".join(f"`{name}`" for name in GROUP_KEYS)
    return "\n".join(
        [
            INTRO,
            "## Study files\n\nThe top-level keys of a study file ([how to design a study](../how-to/study-files.md));"
            f" a group under `groups:` takes {in_groups}.\n",
            _table(
                ((f"`{k}`", s.kind.expected, _default(s.default), s.help) for k, s in STUDY_KEYS.items()),
                ("key", "accepts", "default", "what it is"),
            ),
            "## Training settings\n\nA study's `train:` section, a run's `config.yaml` `train:` section, or the flags"
            " of `imgbench train`.\n",
            _table(_rows(definitions(TrainConfig)), header),
            f"## Run settings\n\nThe rest of a run's settings. A study sets {in_studies} in its `settings:`"
            " section and the datasets, models and engines in its lists.\n",
            _table(_rows(run), header),
        ]
    )


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    """Adds the generated settings reference page to the site's files."""
    files.append(File.generated(config, PAGE, content=settings_markdown()))
    return files

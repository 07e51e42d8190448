"""MkDocs hook: the API reference page, generated from ``imgbench.__all__`` at build time.

Every public name gets a mkdocstrings block of the object it stands for, under the heading ``imgbench.<name>``
(``imgbench.train`` is ``imgbench.runs.runner.train_run``: the page shows both), grouped by the package that
defines it, in data-flow order.  Each public name is registered with mkdocs-autorefs as an identifier of its
block, so docstrings (``:func:`train```) and pages (``[train][imgbench.train]``) can link to it.  A name added to
``__all__`` appears here with no edit to the docs.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

PAGE = "reference/api.md"
# Packages in the order data flows through them (DESIGN.md's layers); anything else follows.
FLOW = ("imgbench.data", "imgbench.specs", "imgbench.engines", "imgbench.settings", "imgbench.runs")
INTRO = """\
# API reference

The public API is `imgbench.__all__`: the names below, importable as `imgbench.<name>`. The command line
(`imgbench --help`, [Command line](cli.md)) is a thin layer over them. Training, studies and figures are imported
on first use, so `import imgbench` stays light. Every other module is internal: its names may change.

::: imgbench
    options:
      show_root_heading: false
      show_root_toc_entry: false
      members: false
"""


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _summary(module: str) -> str:
    doc = inspect.getdoc(importlib.import_module(module)) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


def _path(obj: object) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"  # type: ignore[attr-defined]


def public_objects() -> dict[str, object]:
    """``imgbench.<name>`` -> the object, for every name in ``imgbench.__all__``."""
    imgbench = importlib.import_module("imgbench")
    return {f"imgbench.{name}": getattr(imgbench, name) for name in imgbench.__all__}


def _entry(public: str, obj: object) -> str:
    from imgbench.kinds import definitions

    # A settings class's constructor would list every setting's definition as its default: the settings
    # reference page tabulates them instead.
    settings = inspect.isclass(obj) and dataclasses.is_dataclass(obj) and bool(definitions(obj))
    block = (
        f"::: {_path(obj)}\n"
        f"    options:\n"
        f'      heading: "{public}"\n'
        f'      toc_label: "{public}"\n'
        f"      heading_level: 3\n"
    )
    if settings:
        block += "      merge_init_into_class: false\n\nIts fields are the run settings: see [Settings](settings.md).\n"
    return block


def api_markdown() -> str:
    """The page: the package docstring's overview, then one block per name in ``imgbench.__all__``."""
    groups: dict[str, list[str]] = {}
    constants = []
    for public, obj in public_objects().items():
        if inspect.isclass(obj) or inspect.isfunction(obj):
            groups.setdefault(_package(obj.__module__), []).append(_entry(public, obj))
        else:
            constants.append(f"### `{public}`\n\n`{obj!r}`\n")
    order = sorted(groups, key=lambda p: (FLOW.index(p) if p in FLOW else len(FLOW), p))
    parts = [INTRO]
    for package in order:
        parts.append(f"## `{package}`\n\n{_summary(package)}\n")
        parts.extend(groups[package])
    if constants:
        parts.append("## Constants\n")
        parts.extend(constants)
    return "\n".join(parts)


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    """Adds the generated API reference page to the site's files."""
    files.append(File.generated(config, PAGE, content=api_markdown()))
    return files


def on_page_markdown(markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Registers ``imgbench.<name>`` as a cross-reference identifier of the block that documents it."""
    if page.file.src_uri == PAGE:
        autorefs = config.plugins["autorefs"]
        for public, obj in public_objects().items():
            if inspect.isclass(obj) or inspect.isfunction(obj):
                autorefs.register_anchor(page, public, _path(obj))  # type: ignore[attr-defined]
    return markdown

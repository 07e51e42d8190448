"""MkDocs hook: the command-line reference page, generated from imgbench's argument parser at build time.

``imgbench.cli.build_parser()`` is the one source of every command, flag, default and help text (the flags of
``train`` and ``compare`` are derived from ``imgbench/settings.py``); this page is its ``--help`` output for
``imgbench`` and every subcommand, nested ones included, wrapped at a fixed width.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

PAGE = "reference/cli.md"
WIDTH = "88"  # argparse wraps at $COLUMNS; 88 fits the page without scrolling
INTRO = """\
# Command line

`imgbench COMMAND --help` prints each section below. Every setting has one definition
(`imgbench/settings.py`), so a flag takes the same values as the same key in a study file, a `--config`
file or the [Python API](api.md); a bad value is one `imgbench: error:` line with exit code 1.
"""


def _commands(parser: argparse.ArgumentParser, prog: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{prog} {name}")


def cli_markdown() -> str:
    """The page: one section per command, holding its ``--help`` text."""
    from imgbench.cli import build_parser

    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        sections = [
            f"## `{prog}`\n\n```text\n{sub.format_help().rstrip()}\n```\n"
            for prog, sub in _commands(build_parser(), "imgbench")
        ]
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before
    return "\n".join([INTRO, *sections])


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    """Adds the generated command-line reference page to the site's files."""
    files.append(File.generated(config, PAGE, content=cli_markdown()))
    return files

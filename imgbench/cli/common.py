"""What the command groups share: the parser, flags derived from settings, JSON output, the RUN_DIR arguments."""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import sys
from typing import Any, NoReturn

from ..kinds import Choice, Flag, Setting, flag_of


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one ``imgbench: error:`` line and exit code 1, like every other error.

    Flags must be written in full: argparse's abbreviations (``--epoch`` for ``--epochs``) would make a
    script's meaning depend on which flags exist, and change when a new flag shares the prefix.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # subcommand parsers are made by add_parser(): same class
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"imgbench: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(1)


def add_setting(p: Any, name: str, s: Setting, *, help: str | None = None, own_default: bool = False) -> None:
    """The flag of setting ``name``: its type, check, choices and help come from the definition ``s``.

    A flag left out is None, "not given", so a value from elsewhere (``--config``, a study) stays; with
    ``own_default`` (an option of one command) it is the setting's default.  ``help`` replaces the
    definition's help where the flag means more (``replacing the study's``).
    """
    default = s.default if own_default else None
    flag = flag_of(name)
    shown = s.show_default and s.default is not None and s.default is not False
    text = help or s.help + (f" (default {s.default})" if shown else "")
    text = text.replace("%", "%%")  # argparse formats help with %
    if isinstance(s.kind, Flag):
        p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=text)
        return
    choices = list(s.kind.names()) if isinstance(s.kind, Choice) else None
    # The check runs while parsing, so a bad value is reported with its flag before any work starts.
    p.add_argument(
        flag, type=functools.partial(s.parse, flag), choices=choices, default=default, metavar=s.metavar, help=text
    )


def print_json(obj) -> None:
    """``obj`` as indented JSON on stdout."""
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def print_paths(paths) -> int:
    """One written file a line; the exit code of a command that wrote them."""
    for p in paths:
        print(p)
    return 0


def picked(args: argparse.Namespace, *names: str) -> dict:
    """The parsed options ``names``, as keyword arguments for the library function of the same names."""
    return {name: getattr(args, name) for name in names}


def add_run_args(p: argparse.ArgumentParser, split: bool = True) -> None:
    """RUN_DIR, and which weights (and split) of it to use."""
    p.add_argument("run_dir")
    if split:
        p.add_argument("--split", choices=["test", "val"], default="test")
    p.add_argument("--weights", choices=["best", "last"], default="best")


def add_command(sub, name: str, handler) -> argparse.ArgumentParser:
    """The subcommand ``name``, run by ``handler``; the handler's docstring is the command's help.

    Its first line is the one-line help in the list of commands; the paragraphs after it, if any, are the
    description at the top of the command's own ``--help`` (argparse re-wraps both).
    """
    summary, _, description = (inspect.getdoc(handler) or "").partition("\n")
    p = sub.add_parser(name, help=summary, description=description.strip() or None)
    p.set_defaults(func=handler)
    return p

"""What the command groups share: JSON output, picking options to pass on, the RUN_DIR arguments."""

from __future__ import annotations

import argparse
import inspect
import json
import sys


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

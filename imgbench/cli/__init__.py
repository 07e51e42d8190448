"""The ``imgbench`` command line: parses arguments and calls the library.

One module per command group registers its subcommands and holds their
handlers: parse, call the library once, print.

Errors caused by input (:class:`~imgbench.errors.ImgbenchError`, a bad
setting or flag, missing or unreadable files) or by the disk (full, read-only, not allowed) are printed as
one ``imgbench: error: ...`` message on stderr with exit code 1 and no traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from ..errors import ImgbenchError
from ..fileio import disk_error
from . import data, export, models, runs, serve, studies, train, tune, visual
from .common import Parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from .. import __version__

    parser = Parser(
        prog="imgbench", description="Image-classification workbench: NumPy vs PyTorch vs Keras, FCNN vs CNN."
    )
    parser.add_argument("--version", action="version", version=f"imgbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # The order here is the order of `imgbench --help`.
    for group in (data, train, studies, tune, runs, visual, export, models, serve):
        group.register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    # Deprecation notices are for the developers of the library that raised them (Keras's own NumPy
    # calls, say), not for someone running imgbench; Python hides them outside __main__ by default,
    # and they must stay hidden when a test runner or -W turns them on.
    if issubclass(category, (DeprecationWarning, PendingDeprecationWarning)):
        return
    print(f"imgbench: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``imgbench`` console script."""
    warnings.showwarning = _show_warning
    try:
        args = build_parser().parse_args(argv)  # a bad setting is a SettingError raised while parsing
        return args.func(args)
    except ImgbenchError as exc:
        print(f"imgbench: error: {exc}", file=sys.stderr)
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"imgbench: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("imgbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head: the reader left, nothing to report
        sys.stderr.close()
        return 0
    except Exception as exc:
        os_error = disk_error(exc)  # a full or read-only disk met where no file name was at hand
        if os_error is None:
            raise
        where = f"{os_error.filename}: " if os_error.filename else ""
        print(f"imgbench: error: {where}{os_error.strerror or os_error}", file=sys.stderr)
    return 1

"""Exceptions a user can act on.

Every error raised for bad input derives from :class:`ImgbenchError`; the CLI
prints its message on one line to stderr and exits non-zero without a
traceback.  Messages name the file, what was expected and what was found.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ImgbenchError(Exception):
    """Base class for errors caused by input or environment, not by a bug."""


class DataFormatError(ImgbenchError):
    """A data file exists but its content is not what its format requires."""


class DatasetNotFoundError(ImgbenchError):
    """A dataset's files are not in any of the searched directories."""


class DownloadError(ImgbenchError):
    """Every mirror failed or a downloaded file did not match its checksum."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to ``word``, or an empty string when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""

"""What the Python API gives back: a run directory, a study directory and a set of metrics.

They are what they always were, a :class:`~pathlib.Path` and a ``dict``, so code that joins paths or
reads keys is unchanged; in Jupyter they also show themselves as tables with their figures inline
(``_repr_html_``, drawn by :mod:`imgbench.runs.display`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    _ConcretePath = Path
else:
    _ConcretePath = type(Path())  # PosixPath or WindowsPath: before Python 3.12, Path itself cannot be subclassed


class RunDir(_ConcretePath):
    """A run directory (``imgbench.train`` and ``imgbench.resume`` return one)."""

    def _repr_html_(self) -> str | None:
        from .display import run_html

        # A path joined onto a run (run / "plots") is a RunDir too: it shows as a plain path.
        return run_html(self) if (self / "config.yaml").is_file() else None


class StudyDir(_ConcretePath):
    """A study directory written by ``imgbench.compare``."""

    def _repr_html_(self) -> str | None:
        from .display import study_html

        return study_html(self) if (self / "study.yaml").is_file() else None


class Metrics(dict[str, Any]):
    """The metrics ``imgbench.evaluate`` recomputes: a plain dict of metrics.json's keys."""

    def _repr_html_(self) -> str:
        from .display import metrics_html

        return metrics_html(self)

"""One run: its directory (the source of truth), train/resume/evaluate, predict, the index and its figures."""

from .runner import RunSettings, evaluate_run, open_run, resume_run, train_run

__all__ = ["RunSettings", "evaluate_run", "open_run", "resume_run", "train_run"]

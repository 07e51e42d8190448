"""Run directories (the source of truth) and running training from settings."""

from .rundir import read_history, unique_run_dir
from .runner import RunSettings, evaluate_run, resume_run, train_run

__all__ = ["RunSettings", "evaluate_run", "read_history", "resume_run", "train_run", "unique_run_dir"]

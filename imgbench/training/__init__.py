"""The engine-agnostic training loop and learning-rate schedules."""

from .loop import History, TrainConfig, fit, loss_and_accuracy, accuracy_on_test
from .schedules import SCHEDULES, make_schedule

__all__ = ["History", "SCHEDULES", "TrainConfig", "fit", "loss_and_accuracy", "make_schedule", "accuracy_on_test"]

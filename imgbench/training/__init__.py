"""The engine-agnostic training loop, callbacks and learning-rate schedules."""

from .callbacks import Callback, EarlyStopping, Progress
from .loop import History, TrainConfig, TrainingLoop, accuracy_on_test, fit, loss_and_accuracy
from .schedules import SCHEDULES, make_schedule

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "Progress",
    "SCHEDULES",
    "TrainConfig",
    "TrainingLoop",
    "accuracy_on_test",
    "fit",
    "loss_and_accuracy",
    "make_schedule",
]

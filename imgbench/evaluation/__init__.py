"""Metrics, statistics over seeds x test images, and timing."""

from .comparison import compare_groups, compare_pair, describe_comparison, probability_of_improvement
from .intervals import Runs, accuracy_interval, difference_interval, difference_test, pair_runs
from .metrics import classification_metrics, softmax
from .power import MIN_SEEDS, detectable_difference, power_summary, seed_warnings
from .statistics import bootstrap_accuracy_ci, holm_adjust, mcnemar_exact, mean_ci
from .timing import best_round_timing, inference_speed, repeat_timing, timing_summary

__all__ = [
    "MIN_SEEDS",
    "Runs",
    "accuracy_interval",
    "best_round_timing",
    "bootstrap_accuracy_ci",
    "classification_metrics",
    "compare_groups",
    "compare_pair",
    "describe_comparison",
    "detectable_difference",
    "difference_interval",
    "difference_test",
    "holm_adjust",
    "inference_speed",
    "mcnemar_exact",
    "mean_ci",
    "pair_runs",
    "power_summary",
    "probability_of_improvement",
    "repeat_timing",
    "seed_warnings",
    "softmax",
    "timing_summary",
]

"""Hyperparameter search: search-space files, Optuna driven ask-and-tell over ordinary runs, the tune report."""

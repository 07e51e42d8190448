"""The tune report's figures: drawn without warnings for a search space of the presets' size."""

from __future__ import annotations

import warnings

import pytest

optuna = pytest.importorskip("optuna")


def test_search_figures_of_the_preset_space_draw_without_warnings(tmp_path):
    """matplotlib declines Optuna's tight layout when a figure's legend has no room (the per-epoch figure
    lists every trial: it said so through imgbench's warning line in the report of the cnn-125k preset's 40
    trials); the figures are drawn all the same, and the user is not told about it."""
    from imgbench.studies.report_figures import Figures
    from imgbench.tune.presets import chosen_space
    from imgbench.tune.report import search_figures

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {p.name: p.distribution() for p in chosen_space(preset_name="cnn-125k-fashion").params}
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    for i in range(40):  # the preset's trial count, each with per-epoch validation values
        trial = study.ask(space)
        value = 0.9 + 0.002 * (i % 5) + 0.01 * trial.params["train.augment"]
        for epoch in range(3):
            trial.report(value - 0.01 * (2 - epoch), epoch)
        study.tell(trial, value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        entries, notes = search_figures(study, Figures(tmp_path))
    assert len(entries) >= 4 and not notes
    assert [str(w.message) for w in caught] == []

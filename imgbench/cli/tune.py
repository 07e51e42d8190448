"""``imgbench tune``: a hyperparameter search whose trials are ordinary runs."""

from __future__ import annotations

from ..kinds import definitions
from ..options import COMMAND_OPTIONS
from ..settings import RunSettings
from .common import add_command, add_setting, picked


def cmd_tune(args) -> int:
    """search training settings and model knobs with Optuna; retrain the best with fresh seeds; report

    Search a space file (or a preset) of training settings and model knobs: each trial is a run directory in
    OUT/trials, compared on validation data and pruned when it lags. Running it again continues the search.
    Then the best settings are trained with --final-seeds fresh seeds and evaluated once on the test split;
    OUT/tuned.yaml reruns them with 'imgbench train --config', and OUT/report.html and report.md show it all.
    """
    from ..tune.presets import PRESETS, chosen_space
    from ..tune.study import run_tune

    if args.list_presets:
        for name, p in PRESETS.items():
            print(f"{name:<18} {' '.join(p['description'].split())}")
        return 0
    space = chosen_space(args.space, args.preset)
    run_tune(
        space,
        args.out or f"tunes/{space.name}",
        **picked(
            args,
            "trials",
            "timeout",
            "workers",
            "final_seeds",
            "storage",
            "root",
            "quiet",
            "wait",
            "executor",
            "ray_address",
        ),
    )
    return 0


def register(sub) -> None:
    """``tune``."""
    p = add_command(sub, "tune", cmd_tune)
    p.add_argument("space", nargs="?", metavar="SPACE_YAML", help="a search-space file (see docs/how-to/tune.md)")
    for name in ("trials", "timeout", "workers", "executor", "ray_address", "final_seeds", "storage"):
        add_setting(p, name, COMMAND_OPTIONS[name], own_default=True)
    add_setting(p, "root", definitions(RunSettings)["root"])
    p.add_argument("--out", metavar="DIR", help="tune folder (default tunes/<name>)")
    p.add_argument("--preset", help="a preset search space (see --list-presets)")
    p.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--wait", action="store_true", help="if another tune is using --out, wait for it to finish")

"""``imgbench compare|report``: many runs, and the report on them."""

from __future__ import annotations

from ..errors import ImgbenchError
from ..kinds import definitions
from ..options import COMMAND_OPTIONS
from ..settings import STUDY_KEYS, RunSettings, TrainConfig
from .common import add_command, add_setting, picked, print_paths


def cmd_compare(args) -> int:
    """train a study (datasets x models x engines x seeds) and write its report

    Run a study file or a preset. Finished runs are skipped, interrupted ones resumed, so running it again
    completes only what is missing.
    """
    from ..studies.compare import run_study
    from ..studies.overrides import chosen_study, with_overrides
    from ..studies.presets import PRESETS

    if args.list_presets:
        for name, p in PRESETS.items():
            print(f"{name:<18} {p['description']}")
        return 0
    if args.no_report and args.format != COMMAND_OPTIONS["report_format"].default:
        raise ImgbenchError("--format chooses the report's formats, but --no-report writes no report; give one of them")
    study = with_overrides(
        chosen_study(args.study, args.preset), **picked(args, "seeds", "epochs", "max_steps", "engines")
    )
    run_study(
        study,
        args.out or f"studies/{study.name}",
        root=args.root,
        workers=args.workers,
        quiet=args.quiet,
        report=not args.no_report,
        wait=args.wait,
        report_formats=args.format,
        **picked(args, "executor", "ray_address"),
    )
    return 0


def cmd_report(args) -> int:
    """write the report (HTML and Markdown; PDF, Word, LaTeX tables) from run directories or a study

    Build the comparative report only from run directories.
    """
    from ..studies.report import report_study_dir, write_report

    if bool(args.run_dirs) == bool(args.study):
        raise ImgbenchError("give run directories or --study DIR (one of them)")
    if args.study:
        return print_paths(report_study_dir(args.study, args.out, formats=args.format))
    if not args.out:
        raise ImgbenchError("--out DIR is needed with run directories")
    return print_paths(write_report(args.run_dirs, args.out, formats=args.format))


def _add_report_format(p) -> None:
    """``--format``: the report's formats, their names and the extras they need from their registry."""
    from ..studies.documents import REPORT_FORMATS

    s = COMMAND_OPTIONS["report_format"]
    extras: dict[str, list[str]] = {}
    for name, fmt in REPORT_FORMATS.items():
        if fmt.extra:
            extras.setdefault(fmt.extra, []).append(name)
    needs = "".join(f"; {', '.join(names)}: pip install 'imgbench[{extra}]'" for extra, names in extras.items())
    help = f"{s.help}: {', '.join(REPORT_FORMATS)} (default {','.join(s.default)}{needs})"
    add_setting(p, "format", s, help=help, own_default=True)


def register(sub) -> None:
    """``compare`` and ``report``."""
    p = add_command(sub, "compare", cmd_compare)
    p.add_argument("study", nargs="?", metavar="STUDY_YAML", help="a study file (see docs/how-to/study-files.md)")
    p.add_argument("--preset", help="a preset study (see --list-presets)")
    p.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    add_setting(p, "root", definitions(RunSettings)["root"])
    p.add_argument("--out", metavar="DIR", help="study directory (default studies/<name>)")
    for name in ("workers", "executor", "ray_address"):
        add_setting(p, name, COMMAND_OPTIONS[name], own_default=True)
    add_setting(p, "seeds", STUDY_KEYS["seeds"], help="comma-separated seeds, replacing the study's")
    train = definitions(TrainConfig)
    add_setting(p, "epochs", train["epochs"], help="epochs for every run, replacing the study's")
    add_setting(p, "max_steps", train["max_steps"], help="stop every run after N steps (a dry run of the study)")
    add_setting(p, "engines", STUDY_KEYS["engines"], help="comma-separated engines: keep only their runs")
    p.add_argument("--no-report", action="store_true", help="train only")
    _add_report_format(p)
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--wait", action="store_true", help="if another compare is using --out, wait for it to finish")

    p = add_command(sub, "report", cmd_report)
    p.add_argument("run_dirs", nargs="*", metavar="RUN_DIR")
    p.add_argument("--study", metavar="DIR", help="a study directory written by 'imgbench compare'")
    p.add_argument("--out", metavar="DIR", help="where the report goes (default: the study directory)")
    _add_report_format(p)

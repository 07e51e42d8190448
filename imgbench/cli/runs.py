"""``imgbench runs list|show|rm|reindex``: the SQLite index over a runs directory."""

from __future__ import annotations

from pathlib import Path

from .common import add_command, picked, print_json


def cmd_runs_list(args) -> int:
    """runs in a runs directory, with filters"""
    from ..data import short_name
    from ..runs.listing import list_runs

    rows = list_runs(args.runs_dir, **picked(args, "dataset", "model", "engine", "study"))
    if args.json:
        print_json(rows)
        return 0
    print(f"{'name':<40} {'dataset':<14} {'model':<14} {'engine':<6} {'seed':>4} {'accuracy':>9} {'seconds':>8}  study")
    for r in rows:
        acc = f"{r['accuracy']:.4f}" if r["accuracy"] is not None else r["status"]
        secs = f"{r['training_seconds']:.1f}" if r["training_seconds"] is not None else ""
        dataset = short_name(r["dataset"] or "")
        seed = r["seed"] if r["seed"] is not None else ""
        print(
            f"{r['name']:<40} {dataset:<14} {r['model'] or '':<14} {r['engine'] or '':<6} {seed:>4} "
            f"{acc:>9} {secs:>8}  {r['study'] or ''}"
        )
    print(f"{len(rows)} runs in {Path(args.runs_dir)}")
    return 0


def cmd_runs_show(args) -> int:
    """one run's index row"""
    from ..runs.listing import show_run

    shown = show_run(args.runs_dir, args.name, with_metrics=args.json)
    if args.json:
        print_json({**shown["row"], "metrics": shown["metrics"]})
        return 0
    for k, v in shown["row"].items():
        print(f"{k:<17} {v}")
    print(f"{'directory':<17} {shown['directory']}")
    return 0


def cmd_runs_rm(args) -> int:
    """delete run directories and their index rows"""
    from ..runs.listing import remove_runs

    for run in remove_runs(args.runs_dir, args.names):
        print(f"removed {run}")
    return 0


def cmd_runs_reindex(args) -> int:
    """rebuild the index from the run directories"""
    from ..runs.listing import reindex_runs

    path, count = reindex_runs(args.runs_dir)
    print(f"{path}: {count} runs indexed")
    return 0


def register(sub) -> None:
    """``runs`` and its actions."""
    runs = sub.add_parser("runs", help="list, show, remove and reindex runs (SQLite index over run directories)")
    rsub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    p = add_command(rsub, "list", cmd_runs_list)
    for flag in ("dataset", "model", "engine", "study"):
        p.add_argument(f"--{flag}", help=f"only runs with this {flag}" + (" (substring)" if flag == "dataset" else ""))
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p2 = add_command(rsub, "show", cmd_runs_show)
    p2.add_argument("name")
    p2.add_argument("--json", action="store_true", help="the row and metrics.json")
    p3 = add_command(rsub, "rm", cmd_runs_rm)
    p3.add_argument("names", nargs="+", metavar="NAME")
    p4 = add_command(rsub, "reindex", cmd_runs_reindex)
    for q in (p, p2, p3, p4):
        q.add_argument("--runs-dir", default="runs", help="the runs directory (default ./runs)")

"""``imgbench data list|info|verify|download``: the datasets."""

from __future__ import annotations

import argparse

from ..kinds import definitions
from ..settings import RunSettings
from .common import add_command, add_setting, print_json


def cmd_data_list(args) -> int:
    """named datasets and where they are available locally"""
    from ..data.available import dataset_table

    rows = dataset_table(args.root)
    if args.json:
        print_json(rows)
        return 0
    print(f"{'name':<14} {'image':<8} {'classes':>7}  available")
    for r in rows:
        shape = "x".join(map(str, r["image_shape"]))
        print(f"{r['name']:<14} {shape:<8} {r['num_classes']:>7}  {r['available']}")
    print(
        "\nAlso: folder:PATH (PATH/train/<class>/*, PATH/test/<class>/* or PATH/<class>/*) "
        "and csv:PATH (Kaggle layout: label,pixel0,...)"
    )
    return 0


def cmd_data_info(args) -> int:
    """split sizes, image shape, classes, per-class counts, pixel stats"""
    from ..data import load_dataset
    from ..data.summary import describe, format_text

    d = describe(
        load_dataset(args.name, args.root, image_size=args.image_size, strict=args.strict, offline=args.offline)
    )
    print_json(d) if args.json else print(format_text(d))
    return 0


def cmd_data_verify(args) -> int:
    """check files against published checksums and decode them"""
    from ..data.verify import verify_dataset

    checks = verify_dataset(args.name, args.root, offline=args.offline)
    for what, ok, detail in checks:
        print(f"{'OK  ' if ok else 'FAIL'} {what}: {detail}")
    failed = sum(not ok for _, ok, _ in checks)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


def cmd_data_download(args) -> int:
    """download a named dataset (checksummed, from mirrors)"""
    from ..data.available import download_named

    name, folder = download_named(args.name, args.root)
    print(f"{name}: files in {folder}")
    return 0


def _add_data_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="mnist, fashion-mnist, cifar10, digits, folder:PATH or csv:PATH")
    p.add_argument("--root", metavar="DIR", help="directory searched first for <DIR>/<name>/")
    p.add_argument("--offline", action="store_true", help="never download; fail with the list of searched places")
    add_setting(p, "image_size", definitions(RunSettings)["image_size"])
    p.add_argument("--strict", action="store_true", help="unreadable files in an image folder are an error")


def register(sub) -> None:
    """``data`` and its actions."""
    data = sub.add_parser(
        "data",
        help="list, inspect, verify and download datasets",
        description="Datasets: list, info, verify, download.",
    )
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    p = add_command(dsub, "list", cmd_data_list)
    p.add_argument("--root", metavar="DIR", help="directory searched first")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add_command(dsub, "info", cmd_data_info)
    _add_data_source_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _add_data_source_args(add_command(dsub, "verify", cmd_data_verify))
    p = add_command(dsub, "download", cmd_data_download)
    p.add_argument("name", help="mnist, fashion-mnist or cifar10")
    p.add_argument("--root", metavar="DIR", help="download into DIR/<name>/ (default: the user cache)")

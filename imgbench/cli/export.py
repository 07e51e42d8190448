"""``imgbench export``: a run's model as an ONNX or LiteRT file, checked against the engine before it is kept."""

from __future__ import annotations

from ..options import COMMAND_OPTIONS
from .common import add_command, add_run_args, add_setting, picked, print_json


def cmd_export(args) -> int:
    """export a run's model as ONNX or LiteRT, verified against the engine

    The file is run by ONNX Runtime (or the LiteRT interpreter) on 256 test images and compared with the
    engine's logits; a float export that differs is an error and leaves no file.  The figures and what a user
    of the file needs (input layout and size, normalisation, class names, preprocessing) go into export.json
    beside it; an ONNX file carries them in its metadata too.
    """
    from ..export import export_run

    entry = export_run(args.run_dir, args.format, **picked(args, "out", "quantize", "weights"))
    if args.json:
        print_json(entry)
        return 0
    check = entry["check"]
    print(f"{entry['file']}: {entry['format']} ({entry['quantize']}) via {entry['path']}, {entry['bytes']:,} bytes")
    print(
        f"  {check['images']} test images: max |logit difference| {check['max_abs_diff']:.3g} "
        f"(largest logit {check['largest_logit']:.3g}), top-1 agreement {check['top1_agreement']:.2%}, "
        f"accuracy {check['accuracy']:.4f} (engine {check['engine_accuracy']:.4f})"
    )
    return 0


def register(sub) -> None:
    """``export``."""
    p = add_command(sub, "export", cmd_export)
    add_run_args(p, split=False)
    for option in ("format", "out", "quantize"):
        add_setting(p, option, COMMAND_OPTIONS[option], own_default=True)
    p.add_argument("--json", action="store_true", help="print the export.json entry")

"""``imgbench models``: the model zoo, sized for a dataset's input shape."""

from __future__ import annotations

from .common import add_command, print_json


def cmd_models(args) -> int:
    """the model zoo with parameter counts for a dataset's input shape"""
    from ..specs.sizes import zoo_sizes

    info, rows = zoo_sizes(args.dataset)
    if args.json:
        print_json({"dataset": info.name, "input_shape": list(info.image_shape), "models": rows})
        return 0
    shape = "x".join(map(str, info.image_shape))
    print(f"models for {info.name} ({shape}, {len(info.class_names)} classes)\n")
    width = max(len("model"), *(len(r["model"]) for r in rows)) + 1
    print(f"{'model':<{width}} {'parameters':>11}  description")
    for r in rows:
        count = f"{r['params']:,}" if r["params"] is not None else "does not fit"
        print(f"{r['model']:<{width}} {count:>11}  {r['doc']}")
    return 0


def register(sub) -> None:
    """``models``."""
    p = add_command(sub, "models", cmd_models)
    p.add_argument("--dataset", default="mnist", help="named dataset whose input shape to use (default mnist)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

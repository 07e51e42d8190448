"""The ``imgbench`` command line: parses arguments and calls the library.

Errors caused by input (:class:`~imgbench.errors.ImgbenchError`, missing or
unreadable files) are printed as one ``imgbench: error: ...`` message on
stderr with exit code 1 and no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from .errors import ImgbenchError


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _add_data_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="mnist, fashion-mnist, cifar10, digits, folder:PATH or csv:PATH")
    p.add_argument("--root", metavar="DIR", help="directory searched first for <DIR>/<name>/")
    p.add_argument("--offline", action="store_true", help="never download; fail with the list of searched places")
    p.add_argument("--image-size", type=int, metavar="N", help="resize folder images to NxN")
    p.add_argument("--strict", action="store_true", help="unreadable files in an image folder are an error")


def cmd_data_list(args) -> int:
    from .data.catalog import CATALOG
    from .data.locate import find_dataset

    rows = []
    for info in CATALOG.values():
        if info.name == "digits":
            where = "embedded (scikit-learn)"
        else:
            folder = find_dataset(info, args.root)
            where = str(folder) if folder else f"not found (imgbench data download {info.name})"
        rows.append(
            {
                "name": info.name,
                "image_shape": list(info.image_shape),
                "num_classes": len(info.class_names),
                "available": where,
                "title": info.title,
            }
        )
    if args.json:
        _print_json(rows)
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


def _load(args):
    from .data import load_dataset

    return load_dataset(args.name, args.root, image_size=args.image_size, strict=args.strict, offline=args.offline)


def cmd_data_info(args) -> int:
    from .data.summary import describe, format_text

    d = describe(_load(args))
    _print_json(d) if args.json else print(format_text(d))
    return 0


def cmd_data_verify(args) -> int:
    from .data.verify import verify_dataset

    checks = verify_dataset(args.name, args.root, offline=args.offline)
    for what, ok, detail in checks:
        print(f"{'OK  ' if ok else 'FAIL'} {what}: {detail}")
    failed = sum(not ok for _, ok, _ in checks)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


def cmd_data_download(args) -> int:
    from .data.catalog import CATALOG
    from .data.download import download_dataset
    from .data.load import resolve_name
    from .data.locate import download_root

    name = resolve_name(args.name)
    info = CATALOG.get(name)
    if info is None or not info.mirrors:
        raise ImgbenchError(
            f"'{args.name}' is not downloadable: named datasets with mirrors are "
            + ", ".join(n for n, i in CATALOG.items() if i.mirrors)
        )
    folder = download_dataset(info, download_root(args.root))
    print(f"{info.name}: files in {folder}")
    return 0


def cmd_models(args) -> int:
    from .data.catalog import CATALOG
    from .data.load import resolve_name
    from .specs import ZOO, SpecError, build_spec, param_count

    name = resolve_name(args.dataset)
    if name not in CATALOG:
        raise ImgbenchError("--dataset takes a named dataset (mnist, fashion-mnist, cifar10, digits)")
    info = CATALOG[name]
    rows = []
    for model in ZOO:
        try:
            n, note = param_count(build_spec(model, info.image_shape, len(info.class_names))), ""
        except SpecError as exc:
            n, note = None, str(exc)
        rows.append(
            {"model": model, "params": n, "doc": (ZOO[model].__doc__ or "").strip().split("\n")[0], "note": note}
        )
    if args.json:
        _print_json({"dataset": name, "input_shape": list(info.image_shape), "models": rows})
        return 0
    shape = "x".join(map(str, info.image_shape))
    print(f"models for {name} ({shape}, {len(info.class_names)} classes)\n")
    print(f"{'model':<14} {'parameters':>11}  description")
    for r in rows:
        count = f"{r['params']:,}" if r["params"] is not None else "does not fit"
        print(f"{r['model']:<14} {count:>11}  {r['doc']}")
    return 0


TRAIN_FLAGS = {  # CLI flag -> (where in RunSettings, type)
    "dataset": ("dataset", str),
    "root": ("root", str),
    "model": ("model", str),
    "engine": ("engine", str),
    "name": ("name", str),
    "runs_dir": ("runs_dir", str),
    "image_size": ("image_size", int),
    "device": ("device", str),
    "threads": ("threads", int),
    "deterministic": ("deterministic", bool),
    "precision": ("precision", str),
    "early_stopping": ("early_stopping", str),
    "patience": ("patience", int),
    "quiet": ("quiet", bool),
    "epochs": ("train.epochs", int),
    "batch_size": ("train.batch_size", int),
    "lr": ("train.lr", float),
    "optimizer": ("train.optimizer", str),
    "schedule": ("train.schedule", str),
    "warmup_steps": ("train.warmup_steps", int),
    "weight_decay": ("train.weight_decay", float),
    "label_smoothing": ("train.label_smoothing", float),
    "augment": ("train.augment", bool),
    "val_split": ("train.val_split", float),
    "seed": ("train.seed", int),
    "max_steps": ("train.max_steps", int),
}


def _settings_from_args(args):
    """RunSettings from --config (if given) with every explicitly passed flag applied on top."""
    from .fileio import read_yaml
    from .runs.runner import RunSettings

    settings = RunSettings.from_dict(read_yaml(args.config, "run config")) if args.config else RunSettings()
    for flag, (target, _) in TRAIN_FLAGS.items():
        value = getattr(args, flag)
        if value is None:
            continue
        obj, attr = (settings.train, target[6:]) if target.startswith("train.") else (settings, target)
        setattr(obj, attr, value)
    return settings


def cmd_train(args) -> int:
    from .runs.runner import resume_run, train_run

    if args.resume:
        resume_run(args.resume)
        return 0
    train_run(_settings_from_args(args))
    return 0


def cmd_evaluate(args) -> int:
    from .runs.runner import evaluate_run

    m = evaluate_run(args.run_dir, split=args.split, weights=args.weights)
    if args.json:
        _print_json(m)
        return 0
    print(f"{args.run_dir}: {m['split']} split, {m['num_examples']} images, weights {m['weights']}")
    print(
        f"accuracy {m['accuracy']:.4f}"
        + "".join(f"  top-{k} {m[f'top{k}_accuracy']:.4f}" for k in (3, 5) if f"top{k}_accuracy" in m)
    )
    print(f"macro     precision {m['precision_macro']:.4f}  recall {m['recall_macro']:.4f}  F1 {m['f1_macro']:.4f}")
    print(
        f"weighted  precision {m['precision_weighted']:.4f}  recall {m['recall_weighted']:.4f}  "
        f"F1 {m['f1_weighted']:.4f}"
    )
    print(
        f"log loss {m['log_loss']:.4f}  parameters {m['param_count']:,}  "
        f"throughput {m['throughput_images_per_s']:,.0f} images/s (batch {m['batch_size']})  "
        f"latency {m['latency_ms']:.2f} ms/image"
    )
    width = max(5, *(len(n) for n in m["per_class"]))
    print(f"\n{'class':<{width}}  precision  recall      F1  support")
    for name, c in m["per_class"].items():
        print(f"{name:<{width}}  {c['precision']:9.4f}  {c['recall']:6.4f}  {c['f1']:6.4f}  {c['support']:7d}")
    return 0


def cmd_predict(args) -> int:
    from .runs.predict import predict_images

    results = predict_images(args.run_dir, args.images, top_k=args.top_k, weights=args.weights)
    if args.json:
        _print_json(results)
        return 0
    for r in results:
        alternatives = ", ".join(f"{t['label']} {t['probability']:.3f}" for t in r["top_k"][1:])
        print(
            f"{r['path']}: {r['label']} ({r['probability']:.3f})" + (f"   then {alternatives}" if alternatives else "")
        )
    return 0


def _apply_overrides(study, args):
    """--seeds / --epochs / --max-steps / --engines change a study for this invocation."""
    if args.seeds:
        try:
            study.seeds = [int(x) for x in args.seeds.split(",")]
        except ValueError:
            raise ImgbenchError(f"--seeds takes comma-separated integers, found '{args.seeds}'") from None
        for g in study.groups:
            g.pop("seeds", None)
    for key in ("epochs", "max_steps"):
        value = getattr(args, key)
        if value is not None:
            study.train[key] = value
            for g in study.groups:
                g.get("train", {}).pop(key, None)
    if args.engines:
        wanted = args.engines.split(",")
        for g in study.groups:
            g["engines"] = [e for e in g["engines"] if e in wanted]
        study.groups = [g for g in study.groups if g["engines"]]
        if not study.groups:
            raise ImgbenchError(f"--engines {args.engines}: no run of this study uses those engines")
    return study


def cmd_compare(args) -> int:
    from .studies.compare import run_study
    from .studies.presets import PRESETS, preset
    from .studies.studyfile import load_study

    if args.list_presets:
        for name, p in PRESETS.items():
            print(f"{name:<18} {p['description']}")
        return 0
    if bool(args.study) == bool(args.preset):
        raise ImgbenchError("give a study file or --preset NAME (one of them; see --list-presets)")
    study = preset(args.preset) if args.preset else load_study(args.study)
    study = _apply_overrides(study, args)
    if args.workers < 1:
        raise ImgbenchError(f"--workers must be at least 1, found {args.workers}")
    run_study(
        study,
        args.out or f"studies/{study.name}",
        root=args.root,
        workers=args.workers,
        quiet=args.quiet,
        report=not args.no_report,
    )
    return 0


def cmd_report(args) -> int:
    from pathlib import Path

    from .fileio import read_yaml
    from .studies.report import write_report
    from .studies.studyfile import parse_study

    if bool(args.run_dirs) == bool(args.study):
        raise ImgbenchError("give run directories or --study DIR (one of them)")
    if args.study:
        folder = Path(args.study)
        if not (folder / "study.yaml").exists():
            raise ImgbenchError(f"{folder}: not a study directory (no study.yaml)")
        record = read_yaml(folder / "study.yaml", "study record")
        study = parse_study(record.get("study"), str(folder / "study.yaml"))
        runs = [folder / "runs" / k for k in record.get("runs", [])]
        html, md = write_report(
            runs, args.out or folder, study=study, notes=record.get("notes", []), command=record.get("command")
        )
    else:
        if not args.out:
            raise ImgbenchError("--out DIR is needed with run directories")
        html, md = write_report(args.run_dirs, args.out)
    print(f"{html}\n{md}")
    return 0


def cmd_runs(args) -> int:
    from .data import short_name
    from .runs.index import RunIndex

    index = RunIndex(args.runs_dir)
    if not index.runs_dir.is_dir():
        raise ImgbenchError(f"{index.runs_dir}: no such runs directory (pass --runs-dir DIR)")
    if args.runs_command == "reindex":
        print(f"{index.path}: {index.reindex()} runs indexed")
        return 0
    if args.runs_command == "rm":
        for name in args.names:
            print(f"removed {index.remove(name)}")
        return 0
    if args.runs_command == "show":
        from .fileio import read_json

        row = index.get(args.name)
        if row is None:
            raise ImgbenchError(f"no run '{args.name}' in {index.path} (try 'imgbench runs reindex')")
        metrics_path = index.runs_dir / args.name / "metrics.json"
        if args.json:
            _print_json({**row, "metrics": read_json(metrics_path) if metrics_path.exists() else None})
            return 0
        for k, v in row.items():
            print(f"{k:<17} {v}")
        print(f"{'directory':<17} {index.runs_dir / args.name}")
        return 0
    if not index.path.exists():
        index.reindex()
    rows = index.list(dataset=args.dataset, model=args.model, engine=args.engine, study=args.study)
    if args.json:
        _print_json(rows)
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
    print(f"{len(rows)} runs in {index.runs_dir}")
    return 0


def _print_written(paths) -> int:
    for p in paths:
        print(p)
    return 0


def cmd_visualize(args) -> int:
    from .runs.visualize import visualize_run

    return _print_written(
        visualize_run(
            args.run_dir,
            args.out or f"{args.run_dir}/plots/visualize",
            image=args.image,
            index=args.index,
            split=args.split,
            weights=args.weights,
        )
    )


def cmd_walkthrough(args) -> int:
    from .runs.visualize import walkthrough

    return _print_written(
        [
            walkthrough(
                args.out,
                image=args.image,
                dataset=args.dataset,
                root=args.root,
                index=args.index,
                kernel=args.kernel,
                stride=args.stride,
                padding=args.padding,
            )
        ]
    )


def cmd_gallery(args) -> int:
    from .runs.visualize import gallery

    return _print_written(
        gallery(
            args.run_dir,
            args.out or f"{args.run_dir}/plots",
            split=args.split,
            weights=args.weights,
            count=args.count,
            seed=args.seed,
        )
    )


def cmd_embedding(args) -> int:
    from .runs.visualize import embedding

    methods = ("pca", "tsne") if args.method == "both" else (args.method,)
    return _print_written(
        embedding(
            args.run_dir,
            args.out or f"{args.run_dir}/plots",
            methods=methods,
            split=args.split,
            samples=args.samples,
            weights=args.weights,
        )
    )


def _add_run_args(p: argparse.ArgumentParser, split: bool = True) -> None:
    """RUN_DIR, and which weights (and split) of it to use."""
    p.add_argument("run_dir")
    if split:
        p.add_argument("--split", choices=["test", "val"], default="test")
    p.add_argument("--weights", choices=["best", "last"], default="best")


def _add_visual_parsers(sub) -> None:
    p = sub.add_parser(
        "visualize",
        help="filters, feature maps, probabilities and saliency for one image",
        description="For a trained run (any engine): the first conv layer's filters, the feature "
        "maps of every conv and pool layer, the class probabilities and a saliency map, "
        "for an image file (preprocessed as 'predict' does) or a dataset image.",
    )
    _add_run_args(p)
    p.add_argument("--image", metavar="PATH", help="an image file")
    p.add_argument("--index", type=int, metavar="N", help="the N-th image of --split instead of a file")
    p.add_argument("--out", metavar="DIR", help="default RUN_DIR/plots/visualize")
    p.set_defaults(func=cmd_visualize)

    p = sub.add_parser(
        "walkthrough",
        help="one convolution, ReLU and max-pool step on an image, in one figure",
        description="The classic manual exercise, computed with the NumPy engine's own conv2d and "
        "max_pool2d: original, kernel, convolved map, ReLU, 2x2 max-pooled map.",
    )
    p.add_argument("image", nargs="?", metavar="IMAGE", help="an image file (or use --dataset)")
    p.add_argument("--dataset", help="take --index N of this dataset's test split instead")
    p.add_argument("--root", metavar="DIR", help="directory searched first for named datasets")
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--kernel", default="edge", help="edge, blur, sharpen or learned:RUN_DIR[:FILTER] (default edge)")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--padding", type=int, default=0)
    p.add_argument("--out", metavar="DIR", default="walkthrough", help="default ./walkthrough")
    p.set_defaults(func=cmd_walkthrough)

    p = sub.add_parser("gallery", help="sample predictions, the most confident mistakes, examples per class")
    _add_run_args(p)
    p.add_argument("--count", type=int, default=24, help="images per gallery (default 24)")
    p.add_argument("--seed", type=int, default=0, help="which random images are shown")
    p.add_argument("--out", metavar="DIR", help="default RUN_DIR/plots")
    p.set_defaults(func=cmd_gallery)

    p = sub.add_parser("embedding", help="PCA / t-SNE of the penultimate layer's activations, coloured by class")
    _add_run_args(p)
    p.add_argument("--method", choices=["pca", "tsne", "both"], default="both")
    p.add_argument("--samples", type=int, default=2000, help="stratified subset size (default 2000)")
    p.add_argument("--out", metavar="DIR", help="default RUN_DIR/plots")
    p.set_defaults(func=cmd_embedding)


def _add_study_parsers(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="train a study (datasets x models x engines x seeds) and write its report",
        description="Run a study file or a preset. Finished runs are skipped, interrupted ones "
        "resumed, so running it again completes only what is missing.",
    )
    p.add_argument("study", nargs="?", metavar="STUDY_YAML", help="a study file (see the README)")
    p.add_argument("--preset", help="a preset study (see --list-presets)")
    p.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    p.add_argument("--root", metavar="DIR", help="directory searched first for named datasets")
    p.add_argument("--out", metavar="DIR", help="study directory (default studies/<name>)")
    p.add_argument("--workers", type=int, default=1, help="train in N worker processes (default 1)")
    p.add_argument("--seeds", help="comma-separated seeds, replacing the study's")
    p.add_argument("--epochs", type=int, help="epochs for every run, replacing the study's")
    p.add_argument("--max-steps", type=int, help="stop every run after N steps (a dry run of the study)")
    p.add_argument("--engines", help="comma-separated engines: keep only their runs")
    p.add_argument("--no-report", action="store_true", help="train only")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "report",
        help="write report.html and report.md from run directories or a study",
        description="Build the comparative report only from run directories.",
    )
    p.add_argument("run_dirs", nargs="*", metavar="RUN_DIR")
    p.add_argument("--study", metavar="DIR", help="a study directory written by 'imgbench compare'")
    p.add_argument("--out", metavar="DIR", help="where report.html/report.md go (default: the study directory)")
    p.set_defaults(func=cmd_report)

    runs = sub.add_parser("runs", help="list, show, remove and reindex runs (SQLite index over run directories)")
    rsub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    p = rsub.add_parser("list", help="runs in a runs directory, with filters")
    for flag in ("dataset", "model", "engine", "study"):
        p.add_argument(f"--{flag}", help=f"only runs with this {flag}" + (" (substring)" if flag == "dataset" else ""))
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p2 = rsub.add_parser("show", help="one run's index row")
    p2.add_argument("name")
    p2.add_argument("--json", action="store_true", help="the row and metrics.json")
    p3 = rsub.add_parser("rm", help="delete run directories and their index rows")
    p3.add_argument("names", nargs="+", metavar="NAME")
    p4 = rsub.add_parser("reindex", help="rebuild the index from the run directories")
    for q in (p, p2, p3, p4):
        q.add_argument("--runs-dir", default="runs", help="the runs directory (default ./runs)")
        q.set_defaults(func=cmd_runs)


def _add_train_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model; writes a run directory",
        description="Train a zoo model (or a spec file) with an engine. Every run writes "
        "runs/<name>/ with config.yaml, env.json, history.csv, metrics.json, "
        "weights/ and plots/.",
    )
    p.add_argument("--dataset", help="mnist, fashion-mnist, cifar10, digits, folder:PATH or csv:PATH (default digits)")
    p.add_argument("--root", metavar="DIR", help="directory searched first for named datasets")
    p.add_argument("--model", help="zoo name (see 'imgbench models') or a YAML/JSON spec file (default mlp)")
    p.add_argument("--engine", choices=["numpy", "torch", "keras"], help="default numpy")
    p.add_argument("--epochs", type=int, help="default 5")
    p.add_argument("--batch-size", type=int, help="default 64")
    p.add_argument("--lr", type=float, help="peak learning rate (default 5e-3)")
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], help="default adam")
    p.add_argument("--schedule", choices=["constant", "step", "cosine", "onecycle"], help="default onecycle")
    p.add_argument("--warmup-steps", type=int, help="linear warm-up steps for the cosine schedule")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--augment", action="store_true", default=None, help="random crop/flip (colour) or shift/rotate")
    p.add_argument("--val-split", type=float, help="fraction of train held out for validation (default 0.1)")
    p.add_argument("--seed", type=int, help="seeds Python, NumPy, torch and TensorFlow (default 0)")
    p.add_argument("--max-steps", type=int, help="stop after N optimisation steps (dry run)")
    p.add_argument("--early-stopping", choices=["val_loss", "val_acc"], help="stop when this stops improving")
    p.add_argument("--patience", type=int, help="epochs without improvement before early stopping (default 5)")
    p.add_argument("--name", help="run name (a numeric suffix is added on clashes)")
    p.add_argument("--runs-dir", help="where run directories go (default ./runs)")
    p.add_argument("--image-size", type=int, help="resize folder images to NxN")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="torch engine device")
    p.add_argument("--threads", type=int, help="torch engine CPU threads")
    p.add_argument("--deterministic", action="store_true", default=None, help="deterministic torch kernels")
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="torch engine arithmetic: auto (default: bf16 autocast on CUDA, fp32 on the CPU), "
        "fp32, bf16 (mixed precision; about 1.7x faster on CPUs with AVX-512 BF16 or AMX), fp16 (GPU)",
    )
    p.add_argument("--quiet", action="store_true", default=None, help="no progress output")
    p.add_argument("--config", metavar="CONFIG_YAML", help="a run's config.yaml: rerun it (flags override)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last epoch")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="recompute a run's metrics from its saved weights")
    _add_run_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "predict",
        help="classify your own images with a trained run",
        description="Classify PNG/JPEG/WebP/BMP images of any size, grey or colour. Each image "
        "is converted to look like the training data (MNIST-style digits are "
        "inverted if needed, cropped to the ink, fitted into 20x20 and centred by "
        "centre of mass in 28x28).",
    )
    _add_run_args(p, split=False)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--top-k", type=int, default=3, help="how many labels to show (default 3)")
    p.add_argument("--json", action="store_true", help="one object per image, with its path")
    p.set_defaults(func=cmd_predict)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="imgbench", description="Image-classification workbench: NumPy vs PyTorch vs Keras, FCNN vs CNN."
    )
    parser.add_argument("--version", action="version", version=f"imgbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    data = sub.add_parser(
        "data",
        help="list, inspect, verify and download datasets",
        description="Datasets: list, info, verify, download.",
    )
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    p = dsub.add_parser("list", help="named datasets and where they are available locally")
    p.add_argument("--root", metavar="DIR", help="directory searched first")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_data_list)

    p = dsub.add_parser("info", help="split sizes, image shape, classes, per-class counts, pixel stats")
    _add_data_source_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_data_info)

    p = dsub.add_parser("verify", help="check files against published checksums and decode them")
    _add_data_source_args(p)
    p.set_defaults(func=cmd_data_verify)

    _add_train_parser(sub)
    _add_study_parsers(sub)
    _add_visual_parsers(sub)

    p = sub.add_parser("models", help="the model zoo with parameter counts for a dataset's input shape")
    p.add_argument("--dataset", default="mnist", help="named dataset whose input shape to use (default mnist)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_models)

    p = dsub.add_parser("download", help="download a named dataset (checksummed, from mirrors)")
    p.add_argument("name", help="mnist, fashion-mnist or cifar10")
    p.add_argument("--root", metavar="DIR", help="download into DIR/<name>/ (default: the user cache)")
    p.set_defaults(func=cmd_data_download)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"imgbench: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``imgbench`` console script."""

    args = build_parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
    except ImgbenchError as exc:
        print(f"imgbench: error: {exc}", file=sys.stderr)
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"imgbench: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("imgbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head: the reader left, nothing to report
        sys.stderr.close()
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())

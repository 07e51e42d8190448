"""``imgbench train|evaluate|predict``: one run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ImgbenchError
from ..kinds import flag_of
from ..options import COMMAND_OPTIONS
from ..settings import FLAG_GROUPS, run_settings
from .common import add_command, add_run_args, add_setting, print_json


def _run_flags(p: argparse.ArgumentParser) -> dict[str, str]:
    """A flag for every run setting that has a command-line group; returns ``{dest: setting path}``."""
    groups = {title: p.add_argument_group(title) for title in FLAG_GROUPS}
    # Group by group; within one, TrainConfig's first: --epochs ... --max-steps, then --early-stopping, --patience.
    ordered = sorted(
        (item for item in run_settings().items() if item[1].group),
        key=lambda item: (FLAG_GROUPS.index(item[1].group), not item[0].startswith("train.")),
    )
    flags = {}
    for path, s in ordered:
        add_setting(groups[s.group], path, s)
        flags[path.rpartition(".")[2]] = path
    return flags


def cmd_train(args) -> int:
    """train a model; writes a run directory

    Train a zoo model (or a spec file) with an engine. Every run writes runs/<name>/ with config.yaml,
    env.json, history.csv, metrics.json, weights/ and plots/. A bad value is an error before anything is
    written. --config reruns a run's config.yaml, its train: and spec: sections included (edit them to
    change the run); flags override it, and --model builds that model instead of the recorded spec.
    --resume continues an interrupted run with exactly its recorded settings, so it takes no other flag.
    """
    from ..runs.runner import load_settings, resume_run, train_run

    given = {dest: getattr(args, dest) for dest in args.run_flags if getattr(args, dest) is not None}
    if args.resume:
        if given or args.config:
            ignored = ", ".join(flag_of(dest) for dest in [*given, *(["config"] if args.config else [])])
            raise ImgbenchError(
                f"--resume continues {args.resume} with its recorded settings, so {ignored} would be ignored; "
                f"to train with other settings, start a new run: --config {Path(args.resume) / 'config.yaml'} "
                "with those flags"
            )
        resume_run(args.resume)
        return 0
    # Flags left out are None: --config (or the defaults) decides those.
    values = {args.run_flags[dest]: value for dest, value in given.items()}
    train_run(load_settings(args.config, values, label=flag_of))
    return 0


def cmd_evaluate(args) -> int:
    """recompute a run's metrics from its saved weights and print them

    The metrics are printed (or given as JSON with --json); the run's metrics.json, its record of the
    test evaluation made when training ended, is left as it is.
    """
    from ..runs.runner import evaluate_run

    m = evaluate_run(args.run_dir, split=args.split, weights=args.weights)
    if args.json:
        print_json(m)
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
    """classify your own images, or a Kaggle CSV's rows, with a trained run or an exported model

    The model is a run directory, or an .onnx or .tflite file written by 'imgbench export' (which stores the
    run's preprocessing and class names with it). Classify PNG/JPEG/WebP/BMP images of any size, grey or
    colour. Each image is converted to look like the training data (MNIST-style digits are inverted if needed,
    cropped to the ink, fitted into 20x20 and centred by centre of mass in 28x28). Folders are searched for
    images recursively. Images that cannot be read are reported and the others predicted; the exit status is
    then 1. --csv FILE predicts the rows of a Kaggle CSV instead (a label column is optional, as in Digit
    Recognizer's test.csv). --out FILE writes every prediction: a .csv of a --csv file is Kaggle's submission
    (ImageId,Label: the row number from 1, the predicted class index); a .csv of images is a table (file,
    label, class index, probability, then the rest of the top k); a .json holds what --json prints.
    """
    from ..runs.predict import predict_csv, predict_images, unreadable_summary
    from ..runs.submission import output_format, save_predictions

    if bool(args.images) == bool(args.csv):
        raise ImgbenchError("give image files or folders, or --csv FILE (one of them)")
    if args.out:
        output_format(args.out)  # a wrong suffix is reported before any image is read
    if args.csv:
        results = predict_csv(args.run_dir, args.csv, top_k=args.top_k, weights=args.weights)
    else:
        results = predict_images(args.run_dir, args.images, top_k=args.top_k, weights=args.weights)
    problem = unreadable_summary(results)
    written = save_predictions(args.out, results) if args.out else None
    if args.json:
        print_json(results)
    elif written:
        print(f"{args.out}: {len(results)} predictions ({written})")
    else:
        for r in results:
            if "error" in r:
                print(r["error"])
                continue
            alternatives = ", ".join(f"{t['label']} {t['probability']:.3f}" for t in r["top_k"][1:])
            print(
                f"{r.get('path') or 'row ' + str(r['row'])}: {r['label']} ({r['probability']:.3f})"
                + (f"   then {alternatives}" if alternatives else "")
            )
    if problem:
        raise ImgbenchError(problem)
    return 0


def cmd_speedrun(args) -> int:
    """train CIFAR-10 fast with the PyTorch engine: the speed-run recipe (airbench's ideas); writes a run directory

    A small fixed network (a 2x2 patch-whitening convolution, then three groups of two 3x3 convolutions with
    BatchNorm and GELU; 2.0M parameters) trained with airbench94's recipe: Nesterov SGD, label smoothing,
    lookahead weight averaging, alternating flips and 2-pixel translations, test-time augmentation. Every
    training image trains (there is no validation split); the test split is scored once, at the end. The run
    directory is listed by 'imgbench runs'; its network is not a zoo model, so evaluate, predict and export
    do not open it.
    """
    from ..runs.speedrun import speedrun

    speedrun(
        args.dataset,
        args.root,
        seed=args.seed,
        epochs=args.epochs,
        tta_level=args.tta_level,
        precision=args.precision,
        image_size=args.image_size,
        device=args.device,
        runs_dir=args.runs_dir,
        name=args.name,
        threads=args.threads,
        quiet=args.quiet,
    )
    return 0


def register(sub) -> None:
    """``train``, ``speedrun``, ``evaluate`` and ``predict``."""
    p = add_command(sub, "train", cmd_train)
    p.set_defaults(run_flags=_run_flags(p))  # argparse dest -> setting path (``epochs`` -> ``train.epochs``)
    p.add_argument(
        "--config",
        metavar="CONFIG_YAML",
        help="a run's config.yaml: rerun it, edited train: and spec: sections included (flags override)",
    )
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue an interrupted run from its last epoch, with its recorded settings (no other flags)",
    )

    p = add_command(sub, "speedrun", cmd_speedrun)
    settings = run_settings()
    add_setting(p, "dataset", settings["dataset"], help=settings["dataset"].help + " (default cifar10)")
    p.set_defaults(dataset="cifar10")
    for name in ("root", "image_size", "train.seed", "runs_dir", "name", "device", "threads", "quiet"):
        add_setting(p, name.rpartition(".")[2], settings[name], own_default=True)
    add_setting(p, "epochs", COMMAND_OPTIONS["speedrun_epochs"], own_default=True)
    add_setting(p, "tta_level", COMMAND_OPTIONS["tta_level"], own_default=True)
    add_setting(p, "precision", COMMAND_OPTIONS["speedrun_precision"], own_default=True)

    p = add_command(sub, "evaluate", cmd_evaluate)
    add_run_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add_command(sub, "predict", cmd_predict)
    add_run_args(p, split=False)
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files, or folders of them")
    add_setting(p, "csv", COMMAND_OPTIONS["csv"], own_default=True)
    add_setting(p, "top_k", COMMAND_OPTIONS["top_k"], own_default=True)
    add_setting(
        p,
        "out",
        COMMAND_OPTIONS["out"],
        own_default=True,
        help="write every prediction to FILE: .csv (Kaggle's submission for --csv, else a table) or .json",
    )
    p.add_argument("--json", action="store_true", help="one object per image (or CSV row), with its path (or row)")
